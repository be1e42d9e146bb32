import { readdirSync } from 'node:fs';

/**
 * A directory's names, [] when it cannot be read (absent, say): one
 * synchronous getdents, where a short listing's threadpool round trip
 * costs more than the call itself.
 */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
