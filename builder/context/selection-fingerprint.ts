// A selection's fingerprint (checksum.ts): what its checksum depends on,
// hashed as a walk goes, so that a selection whose entries all kept their
// name, mode, owner and stat identity is known by it without a file read.
import { createHash } from '../../runner-native/native-crypto.js';
import type { WalkStat } from './prestat.js';
import { untrustedUntil } from '../../cache/checksum-cache.js';

/**
 * sha256 over every entry's label, type, mode, owner, stat identity and
 * link target, in walk order: everything a selection's checksum depends
 * on (a file's bytes through its identity, as the per-file cache trusts
 * them). Written into one buffer, hashed as it fills: nothing is kept per
 * entry. Owners as the tree reports them: a tree that forces root
 * ownership does so on every walk.
 */
export class Fingerprint {
  /** When the newest entry stops being racy (see cache/checksum-cache.ts). */
  trustedFrom = -Infinity;
  private readonly hash = createHash('sha256');
  // Numbers go in through a Float64Array over the same (8-aligned) bytes.
  private readonly buf = Buffer.from(new ArrayBuffer(64 * 1024));
  private readonly doubles = new Float64Array(this.buf.buffer);
  private at = 0;
  private result: string | undefined;

  begin(label: string): void {
    this.text(1, label);
  }

  /** `link`: the target of a symlink, '' for anything else. */
  add(rel: string, st: WalkStat, link: string): void {
    this.text(2, rel);
    // Zero padding up to the next double: as much as the text's length decides.
    while (this.at % 8 !== 0) this.buf[this.at++] = 0;
    const d = this.doubles;
    let i = this.at / 8;
    d[i++] = st.mode; d[i++] = st.uid; d[i++] = st.gid;
    d[i++] = st.dev; d[i++] = st.ino; d[i++] = st.size; d[i++] = st.mtimeMs; d[i++] = st.ctimeMs;
    this.at = i * 8;
    if (st.isSymbolicLink()) this.text(3, link);
    this.trustedFrom = Math.max(this.trustedFrom, untrustedUntil(st.mtimeMs, st.ctimeMs));
  }

  digest(): string {
    if (this.result === undefined) {
      this.flush();
      this.result = this.hash.digest('hex');
    }
    return this.result;
  }

  // A tag byte, the text and a NUL (never in a file name), with room left for an entry's padding and numbers.
  private text(tag: number, text: string): void {
    const room = text.length * 3 + 80;
    if (this.at + room > this.buf.length) this.flush();
    this.buf[this.at++] = tag;
    if (room > this.buf.length) {
      this.flush();
      this.hash.update(text);
    } else {
      this.at += this.buf.write(text, this.at);
    }
    this.buf[this.at++] = 0;
  }

  private flush(): void {
    this.hash.update(this.buf.subarray(0, this.at));
    this.at = 0;
  }
}
