// The blobs one `load` or `pull` added to the content store, so that an
// image refused after its blobs arrived (validation runs on stored blobs)
// leaves nothing behind. Blobs that were there before belong to others and
// are never removed. A concurrent load of an image that shares a new blob
// could lose it in the window between our refusal and its own tagging; it
// then fails on a missing blob and can be retried, which is the same outcome
// a `prune` racing it would have without a lease.

import type { ContentStore } from '../../cache/content-store.js';
import { digestOf, type Digest } from '../../cache/digest.js';

export class AddedBlobs {
  private readonly added = new Set<Digest>();

  constructor(private readonly store: ContentStore) {}

  note(digest: Digest, added: boolean): void {
    if (added) this.added.add(digest);
  }

  /** putBuffer that remembers whether the blob is new. */
  async putBuffer(bytes: Buffer, expected?: Digest): Promise<Digest> {
    const existed = await this.store.has(expected ?? digestOf(bytes));
    const digest = await this.store.putBuffer(bytes, expected);
    this.note(digest, !existed);
    return digest;
  }

  /** Removes every blob this operation added. */
  async discard(): Promise<void> {
    await Promise.all([...this.added].map((d) => this.store.delete(d)));
    this.added.clear();
  }
}
