// The --format template evaluator against Go text/template's documented
// behaviour and docker's examples.
import test from 'ava';
import { compileTemplate, TemplateError } from '../builder/cli/go-template.js';
import { formatRows, tabwrite } from '../builder/cli/format-output.js';

const run = (t: string, data: unknown) => compileTemplate(t).execute(data);

const inspect = {
  Id: 'abc', Name: '/web', State: { Status: 'running', Running: true, ExitCode: 0 },
  Config: { Env: ['A=1', 'B=2'], Labels: { team: 'x', 'com.example.tier': 'front' }, Cmd: ['httpd', '-f'] },
  NetworkSettings: { Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null } },
};

test('fields, nested fields, json and Go printing of lists and maps', (t) => {
  t.is(run('{{.Id}} {{.State.Status}}', inspect), 'abc running');
  t.is(run('{{json .Config.Cmd}}', inspect), '["httpd","-f"]');
  t.is(run('{{.Config.Cmd}}', inspect), '[httpd -f]');
  t.is(run('{{.Config.Labels}}', inspect), 'map[com.example.tier:front team:x]');
  t.is(run('{{.Missing}}', inspect), '<no value>');
  t.is(run('{{.State.Running}} {{.State.ExitCode}}', inspect), 'true 0');
  t.is(run('{{json .}}', { a: 1 }), '{"a":1}');
});

test('index, range with variables, if/else, with, pipes, functions', (t) => {
  t.is(run('{{index .Config.Labels "com.example.tier"}}', inspect), 'front');
  t.is(run('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', inspect), '8080');
  t.is(run('{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{if $conf}}{{(index $conf 0).HostPort}}{{else}}none{{end}}; {{end}}', inspect),
    '443/tcp -> none; 80/tcp -> 8080; ');
  t.is(run('{{range .Config.Env}}[{{.}}]{{end}}', inspect), '[A=1][B=2]');
  t.is(run('{{range .Nothing}}x{{else}}empty{{end}}', inspect), 'empty');
  t.is(run('{{with .State}}{{.Status}}{{end}}', inspect), 'running');
  t.is(run('{{.Name | upper}} {{join .Config.Cmd ","}} {{len .Config.Env}}', inspect), '/WEB httpd,-f 2');
  t.is(run('{{if eq .State.Status "exited"}}down{{else if .State.Running}}up{{end}}', inspect), 'up');
  t.is(run('{{printf "%s:%d" .Id 5}}', inspect), 'abc:5');
  t.is(run('{{- .Id -}}  \n', inspect), 'abc');
  t.is(run('{{$.Id}}', inspect), 'abc');
});

test('unsupported or broken templates are errors, never echoed back', (t) => {
  t.throws(() => compileTemplate('{{.Id'), { instanceOf: TemplateError });
  t.throws(() => compileTemplate('{{nosuchfunc .Id}}'), { instanceOf: TemplateError, message: /function "nosuchfunc" not defined/ });
  t.throws(() => compileTemplate('{{if .Id}}x'), { instanceOf: TemplateError });
  t.throws(() => compileTemplate('{{end}}'), { instanceOf: TemplateError });
  t.throws(() => run('{{$x}}', {}), { instanceOf: TemplateError, message: /undefined variable/ });
});

test('table format: header row from the column names, tabwriter alignment (min 10, padding 3)', (t) => {
  const out = formatRows('table {{.ID}}\\t{{.Names}}\\t{{.Status}}', [
    { ID: 'f1e2d3c4b5a6', Names: 'web', Status: 'Up 2 seconds' },
    { ID: '0123456789ab', Names: 'a-much-longer-name', Status: 'Exited (0)' },
  ], { ID: 'CONTAINER ID', Names: 'NAMES', Status: 'STATUS' });
  t.is(out, [
    'CONTAINER ID   NAMES                STATUS',
    'f1e2d3c4b5a6   web                  Up 2 seconds',
    '0123456789ab   a-much-longer-name   Exited (0)',
    '',
  ].join('\n'));
  t.is(formatRows('{{.ID}}', [{ ID: 'x' }, { ID: 'y' }], {}), 'x\ny\n');
  t.is(formatRows('json', [{ ID: 'x' }], {}), '{"ID":"x"}\n');
  t.is(tabwrite('a\tb'), 'a         b', 'short columns still take 10');
});
