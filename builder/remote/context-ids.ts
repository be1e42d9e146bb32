// The name a client gives one of its context directories: a server keeps
// one warm copy of each, and the memo questions name it. Apart from the
// walk (context-manifest.ts), which a no-op answered from a memo never loads.
import os from 'node:os';
import { sha256Hex } from '../../cache/sha256-text.js';

const contextIds = new Map<string, string>();

/** Names a context directory of this user on this machine. */
export function contextIdOf(root: string): string {
  let id = contextIds.get(root);
  if (id === undefined) {
    // os.userInfo() reads the passwd database (nsswitch, /etc/passwd): once per process.
    id = sha256Hex(`${os.hostname()}\0${os.userInfo().username}\0${root}`);
    contextIds.set(root, id);
  }
  return id;
}
