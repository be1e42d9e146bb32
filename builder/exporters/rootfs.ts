// The image's final filesystem: every layer applied in order, whiteouts honoured.
import type { ImageDescription } from '../image/image.js';
import type { Store } from '../store/open-store.js';

export async function unpackImage(store: Store, image: ImageDescription, dest: string): Promise<void> {
  const { applyLayer } = await import('../../cache/layer-unpack.js');
  for (const layer of image.layers) await applyLayer(store.content.openRead(layer.digest), dest);
}
