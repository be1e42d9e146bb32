// zstd compression through the system `zstd` program (Debian package zstd):
// Node 20 has no zstd in zlib. A Duplex over the child's stdin/stdout, so it
// sits in a stream pipeline like zlib's transforms; a failing zstd fails it.
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { DEFAULT_ZSTD_LEVEL } from './compression-options.js';
import { ImageError } from './errors.js';


export function createZstd(mode: 'compress' | 'decompress', level = DEFAULT_ZSTD_LEVEL): Duplex {
  const args = mode === 'compress' ? ['-q', '-c', `-${level}`, '--no-check'] : ['-q', '-d', '-c'];
  const child = spawn('zstd', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const duplex = Duplex.from({ writable: child.stdin, readable: child.stdout });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  child.on('error', (err: NodeJS.ErrnoException) => {
    duplex.destroy(err.code === 'ENOENT' ? new ImageError('ZSTD_MISSING', 'compression=zstd needs the zstd program (apt-get install zstd)') : err);
  });
  child.on('close', (code) => {
    if (code !== 0 && code !== null) duplex.destroy(new ImageError('ZSTD_FAILED', `zstd exited with ${code}: ${stderr.trim()}`));
  });
  return duplex;
}
