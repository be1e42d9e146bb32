// `--ssh id=KEYFILE[,KEYFILE]`: like buildx, serve private key files to
// `RUN --mount=type=ssh` through an ssh-agent of our own, on a unix socket
// in a directory only the owner can enter, for as long as the build runs
// (local.ts starts it when a step first asks and stops it at the end).
// The keys stay in this process's memory: the sandbox gets the socket,
// which lists the public keys and signs, never the key material. Only the
// two requests a client needs are served (list identities, sign); anything
// else (adding or removing keys, locking) gets SSH_AGENT_FAILURE.

import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { parsePrivateKey, sshString, SshKeyError, type AgentKey } from './ssh-keys.js';

export { SshKeyError };

export interface KeyAgent {
  socket: string;
  close(): Promise<void>;
}

// draft-miller-ssh-agent message numbers.
const FAILURE = 5;
const REQUEST_IDENTITIES = 11;
const IDENTITIES_ANSWER = 12;
const SIGN_REQUEST = 13;
const SIGN_RESPONSE = 14;
/** A request bigger than this is not an agent client talking. */
const MAX_MESSAGE = 256 * 1024;

function frame(type: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length + 1);
  head[4] = type;
  return Buffer.concat([head, body]);
}

function answer(keys: AgentKey[], msg: Buffer): Buffer {
  const type = msg[0];
  if (type === REQUEST_IDENTITIES) {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(keys.length);
    return frame(IDENTITIES_ANSWER, Buffer.concat([count, ...keys.flatMap((k) => [sshString(k.blob), sshString(k.comment)])]));
  }
  if (type === SIGN_REQUEST && msg.length >= 5) {
    let p = 1;
    const field = (): Buffer | undefined => {
      if (p + 4 > msg.length) return undefined;
      const n = msg.readUInt32BE(p);
      if (p + 4 + n > msg.length) return undefined;
      const v = msg.subarray(p + 4, p + 4 + n);
      p += 4 + n;
      return v;
    };
    const blob = field();
    const data = field();
    const flags = p + 4 <= msg.length ? msg.readUInt32BE(p) : undefined;
    const key = blob && keys.find((k) => k.blob.equals(blob));
    if (key && data && flags !== undefined) return frame(SIGN_RESPONSE, sshString(key.sign(data, flags)));
  }
  return frame(FAILURE);
}

function serve(keys: AgentKey[], conn: net.Socket): void {
  let pending = Buffer.alloc(0);
  conn.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const len = pending.readUInt32BE(0);
      if (len === 0 || len > MAX_MESSAGE) {
        conn.destroy();
        return;
      }
      if (pending.length < 4 + len) break;
      const msg = pending.subarray(4, 4 + len);
      pending = pending.subarray(4 + len);
      try {
        conn.write(answer(keys, msg));
      } catch {
        conn.write(frame(FAILURE));
      }
    }
  });
  conn.on('error', () => conn.destroy());
}

/** Starts an agent serving the keys of `files` on `<dir>/agent.sock` (`dir` is created 0700 and removed by close). */
export async function startKeyAgent(id: string, files: string[], dir: string): Promise<KeyAgent> {
  const keys = files.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new SshKeyError(`ssh ${id}: cannot read key file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return parsePrivateKey(text, `ssh ${id}: ${file}`);
  });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const socket = path.join(dir, 'agent.sock');
  const connections = new Set<net.Socket>();
  const server = net.createServer((conn) => {
    connections.add(conn);
    conn.on('close', () => connections.delete(conn));
    serve(keys, conn);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  return {
    socket,
    async close() {
      for (const c of connections) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
