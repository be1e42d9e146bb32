// SHA-256 of a short text in JavaScript, for the lean start of a no-op
// build answered from the memo (builder/cli/local-memo-entry.ts): it
// hashes two strings of a few hundred bytes (the context's id, the memo
// key), and node:crypto would load 46 internal modules for them, 2.7-6 ms
// of a ~30 ms answer (Node 20.20 here); the native addon's hash
// (runner-native/native-crypto.ts) costs its load, more than these few
// hashes. The same digests as node:crypto's (a test compares them);
// anything bigger or hotter uses native-crypto.ts. A process that hashes
// with it anyway (a build) hands it over (hashTextWith()): even written for
// the interpreter, these first calls cost 0.1-0.3 ms where it takes ~10 µs,
// and a build after an edit hashes the same few texts again while it
// records its answer.
import type { createHash } from '../runner-native/native-crypto.js';

let native: typeof createHash | undefined;

/** From now on, texts are hashed by `hash` (native-crypto.ts's, which the caller uses anyway). */
export function hashTextWith(hash: typeof createHash): void {
  native = hash;
}

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** The hex SHA-256 of `text`'s UTF-8 bytes. */
export function sha256Hex(text: string): string {
  if (native) return native('sha256').update(text).digest('hex');
  // It runs a handful of times per process, in V8's interpreter: written
  // for that (locals rather than arrays, no method call per word, int32
  // arithmetic), it hashes the memo key's ~1.3 KB in a third of the time
  // the straightforward version took.
  const data = Buffer.from(text, 'utf8');
  const n = data.length;
  // The message, a 1 bit, zeros, and its length in bits: whole 64-byte blocks of big-endian words.
  const blocks = (n + 9 + 63) >> 6;
  const words = new Int32Array(blocks * 16);
  for (let i = 0; i < n; i++) words[i >> 2]! |= data[i]! << (24 - ((i & 3) << 3));
  words[n >> 2]! |= 0x80 << (24 - ((n & 3) << 3));
  words[blocks * 16 - 2] = Math.floor(n / 0x20000000);
  words[blocks * 16 - 1] = n << 3;
  const w = new Int32Array(64);
  let h0 = 0x6a09e667 | 0, h1 = 0xbb67ae85 | 0, h2 = 0x3c6ef372 | 0, h3 = 0xa54ff53a | 0;
  let h4 = 0x510e527f | 0, h5 = 0x9b05688c | 0, h6 = 0x1f83d9ab | 0, h7 = 0x5be0cd19 | 0;
  for (let at = 0; at < words.length; at += 16) {
    for (let i = 0; i < 16; i++) w[i] = words[at + i]!;
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
  }
  return hex8(h0) + hex8(h1) + hex8(h2) + hex8(h3) + hex8(h4) + hex8(h5) + hex8(h6) + hex8(h7);
}

function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}
