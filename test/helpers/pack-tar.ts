// Tars built with tar-stream, an implementation independent of ours that
// writes names verbatim (hostile archives included).
import tarStream from 'tar-stream';

export type TarEntry = Partial<tarStream.Header> & { name: string; data?: string | Buffer };

/** Entries default to mode 0644 (0755 for directories) and the given mtime. */
export async function packTar(entries: TarEntry[], mtime = new Date(0)): Promise<Buffer> {
  const pack = tarStream.pack();
  const parts: Buffer[] = [];
  const ended = (async () => {
    for await (const b of pack) parts.push(b as Buffer);
  })();
  for (const { data, ...h } of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ mtime, mode: h.type === 'directory' ? 0o755 : 0o644, ...h }, data ?? '', (e) => (e ? reject(e) : resolve()));
    });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(parts);
}
