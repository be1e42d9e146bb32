// Refusing hostile layers when they enter the store (`tsbuild load`), not
// only when a build first unpacks them: `docker load` unpacks at load time
// and so refuses a layer whose entry names climb above the root ('..') or
// whose hard links point there. We never unpack at load, so we read the
// headers in the same pass that hashes the uncompressed tar, and hand them
// to the whole-image check (layer-stack-check.ts), which judges what needs
// the other entries and layers: symlinked parents, whiteouts, hard links.

import { PassThrough, Writable } from 'node:stream';
import type { Sha256 } from '../../runner-native/native-crypto.js';
import { isCacheError } from '../../cache/errors.js';
import { normalizeEntryName } from '../../cache/safe-path.js';
import { TarReader } from '../../cache/tar-reader.js';
import { ImageError } from './errors.js';
import type { LayerEntry } from './layer-stack-check.js';

/** Reads every header of an uncompressed layer tar; throws UNSAFE_LAYER on an escaping name or link, INVALID_ARCHIVE on a broken tar. */
export async function checkLayerEntries(tarStream: AsyncIterable<Buffer>, entries?: LayerEntry[]): Promise<void> {
  const reader = new TarReader(tarStream);
  try {
    for (let h = await reader.next(); h; h = await reader.next()) {
      normalizeEntryName(h.name);
      entries?.push({ name: h.name, type: h.type, linkname: h.linkname });
      if (h.type === 'link') normalizeEntryName(h.linkname, h.name, 'hard link target');
    }
    await reader.drain();
  } catch (e) {
    if (isCacheError(e, 'UNSAFE_TAR_ENTRY')) throw new ImageError('UNSAFE_LAYER', e.message);
    if (isCacheError(e)) throw new ImageError('INVALID_ARCHIVE', `layer is not a valid tar: ${e.message}`);
    throw e;
  }
}

/**
 * A sink for the uncompressed tar that both hashes it (for the diff_id) and
 * checks its entries (collecting them into `entries` when given); it fails, and so fails the pipeline feeding it, at
 * the first unsafe entry.
 */
export function hashAndCheckSink(hash: Sha256, entries?: LayerEntry[]): Writable {
  const feed = new PassThrough({ highWaterMark: 1 << 20 });
  const checked = checkLayerEntries(feed, entries);
  const sink: Writable = new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      if (feed.write(chunk)) cb();
      else feed.once('drain', () => cb());
    },
    final(cb) {
      feed.end();
      checked.then(() => cb(), cb);
    },
    destroy(err, cb) {
      feed.destroy();
      cb(err);
    },
  });
  // The checker stops reading at a bad entry: fail now instead of waiting for a drain that never comes.
  checked.catch((err: Error) => sink.destroy(err));
  return sink;
}
