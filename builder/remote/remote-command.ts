// A store command run by the server (images, inspect, tag, push, ...):
// its arguments go over, its output and exit code come back unchanged.
import { encodeMessage, readMessages } from './messages.js';
import type { RemoteConnection } from './client.js';
import { errorOfAnswer, responseStatus } from './answers.js';
import { RemoteError } from './errors.js';
import { PATHS } from './protocol.js';

type Answer = { type: 'stdout'; data: string } | { type: 'stderr'; data: string } | { type: 'exit'; code: number };

export async function remoteCommand(conn: RemoteConnection, command: string, args: string[], withStdin: boolean): Promise<number> {
  const req = conn.request('POST', PATHS.command, { 'content-type': 'application/x-ndjson' });
  req.write(encodeMessage({ type: 'command', command, args }));
  if (withStdin) {
    process.stdin.on('data', (d: Buffer) => req.write(encodeMessage({ type: 'stdin', data: d.toString('base64') })));
    process.stdin.once('end', () => req.end(encodeMessage({ type: 'stdin-end' })));
  } else {
    req.end(encodeMessage({ type: 'stdin-end' }));
  }
  const status = await responseStatus(req);
  if (status !== 200) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    throw errorOfAnswer(status, Buffer.concat(chunks).toString('utf8'));
  }
  let code: number | undefined;
  for await (const m of readMessages<Answer>(req)) {
    if (m.type === 'stdout') process.stdout.write(Buffer.from(m.data, 'base64'));
    else if (m.type === 'stderr') process.stderr.write(Buffer.from(m.data, 'base64'));
    else if (m.type === 'exit') code = m.code;
  }
  if (withStdin) process.stdin.pause();
  if (code === undefined) throw new RemoteError('REMOTE_UNREACHABLE', `the server ended "${command}" without an exit code`);
  return code;
}
