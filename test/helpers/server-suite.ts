// The set-up of an end-to-end server test file: a fresh store, one
// `tsbuild serve` on a unix socket in front of it for the whole file (tests
// run serially), both gone at the end; where builds cannot run, every test
// is skipped and one skipped line says why.
import test from 'ava';
import path from 'node:path';
import { buildSkipReason, freshStore, tsbuild, tempDir, type CliResult } from './cli.js';
import { startServe, type TestServer } from './serve.js';

export interface ServerSuite {
  it: typeof test.serial | typeof test.skip;
  /** Set before the first test runs. */
  readonly store: { root: string };
  readonly server: TestServer;
  /** `unix:///.../tsbuild.sock` */
  readonly host: string;
  /** A client command against the server, with a client store of its own. */
  remote(args: string[]): Promise<CliResult>;
}

export function serverSuite(title: string, serveArgs: string[] = [], env: NodeJS.ProcessEnv = {}): ServerSuite {
  const skip = buildSkipReason();
  if (skip) test.skip(`${title} (skipped: ${skip})`, () => {});
  let store: Awaited<ReturnType<typeof freshStore>> | undefined;
  let server: TestServer | undefined;
  let host = '';
  test.before(async () => {
    if (skip) return;
    store = await freshStore();
    const sock = path.join(await tempDir('tsbuild-sock-'), 'tsbuild.sock');
    server = await startServe(store.root, ['--addr', `unix://${sock}`, ...serveArgs], env);
    host = `unix://${sock}`;
  });
  test.after.always(async () => {
    await server?.stop();
    await store?.dispose();
  });
  return {
    it: skip ? test.skip : test.serial,
    get store() { return store!; },
    get server() { return server!; },
    get host() { return host; },
    remote: async (args) => tsbuild(['--host', host, ...args], { root: await tempDir('tsbuild-client-') }),
  };
}
