// Private key files for the build's ssh agent: OpenSSH's own format (what
// ssh-keygen writes) and PEM (PKCS#1, PKCS#8, SEC1), turned into Node key
// objects, with the SSH public key blob and the signature encodings the
// agent protocol needs (RFC 4253, RFC 8332 rsa-sha2, RFC 5656 ECDSA,
// RFC 8709 Ed25519). Passphrase-protected keys are refused: like buildx we
// cannot prompt, and the user's own agent is the place for them.

import { createPrivateKey, sign, type KeyObject, type JsonWebKey } from 'node:crypto';

export class SshKeyError extends Error {
  readonly userError = true;
  readonly code = 'SSH_KEY';
}

export interface AgentKey {
  /** The public key blob, as the agent lists it and as sign requests name it. */
  blob: Buffer;
  comment: string;
  /** The signature blob (`string format, string signature`) for a sign request. */
  sign(data: Buffer, flags: number): Buffer;
}

const RSA_SHA2_256 = 2;
const RSA_SHA2_512 = 4;
const CURVES: Record<string, { ssh: string; hash: string; bytes: number }> = {
  'P-256': { ssh: 'nistp256', hash: 'sha256', bytes: 32 },
  'P-384': { ssh: 'nistp384', hash: 'sha384', bytes: 48 },
  'P-521': { ssh: 'nistp521', hash: 'sha512', bytes: 66 },
};

export function sshString(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b) : b;
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  return Buffer.concat([head, data]);
}

function mpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  const v = unsigned.subarray(i);
  return sshString(v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

const b64u = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');
const toB64u = (b: Buffer) => b.toString('base64url');

/** Reads SSH wire-format fields one after another. */
class Fields {
  private p = 0;
  constructor(private readonly buf: Buffer) {}
  u32(): number {
    if (this.p + 4 > this.buf.length) throw new Error('truncated key');
    const v = this.buf.readUInt32BE(this.p);
    this.p += 4;
    return v;
  }
  bytes(): Buffer {
    const n = this.u32();
    if (this.p + n > this.buf.length) throw new Error('truncated key');
    const v = this.buf.subarray(this.p, this.p + n);
    this.p += n;
    return v;
  }
  text(): string {
    return this.bytes().toString('utf8');
  }
}

const big = (b: Buffer) => BigInt(`0x${b.toString('hex') || '0'}`);
function unbig(n: bigint): Buffer {
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
}
const fixed = (b: Buffer, len: number) => (b.length >= len ? b.subarray(b.length - len) : Buffer.concat([Buffer.alloc(len - b.length), b]));

/** The one key of an OpenSSH `openssh-key-v1` file, as a JWK. */
function openSshJwk(body: Buffer): { jwk: JsonWebKey; comment: string } {
  const magic = 'openssh-key-v1\0';
  if (body.subarray(0, magic.length).toString('latin1') !== magic) throw new Error('not an OpenSSH private key');
  const f = new Fields(body.subarray(magic.length));
  const cipher = f.text();
  f.text(); // kdf name
  f.bytes(); // kdf options
  if (cipher !== 'none') throw new SshKeyError('passphrase-protected');
  if (f.u32() !== 1) throw new Error('only files with one key are supported');
  f.bytes(); // public key
  const priv = new Fields(f.bytes());
  if (priv.u32() !== priv.u32()) throw new Error('corrupt private section');
  const type = priv.text();
  if (type === 'ssh-ed25519') {
    const pub = priv.bytes();
    const secret = priv.bytes();
    return { jwk: { kty: 'OKP', crv: 'Ed25519', x: toB64u(pub), d: toB64u(secret.subarray(0, 32)) }, comment: priv.text() };
  }
  if (type === 'ssh-rsa') {
    const [n, e, d, iqmp, p, q] = [priv.bytes(), priv.bytes(), priv.bytes(), priv.bytes(), priv.bytes(), priv.bytes()].map(big) as bigint[];
    const jwk: JsonWebKey = {
      kty: 'RSA', n: toB64u(unbig(n!)), e: toB64u(unbig(e!)), d: toB64u(unbig(d!)), p: toB64u(unbig(p!)), q: toB64u(unbig(q!)),
      dp: toB64u(unbig(d! % (p! - 1n))), dq: toB64u(unbig(d! % (q! - 1n))), qi: toB64u(unbig(iqmp!)),
    };
    return { jwk, comment: priv.text() };
  }
  if (type.startsWith('ecdsa-sha2-')) {
    const curveName = priv.text();
    const crv = Object.keys(CURVES).find((c) => CURVES[c]!.ssh === curveName);
    if (!crv) throw new Error(`unsupported curve ${curveName}`);
    const len = CURVES[crv]!.bytes;
    const point = priv.bytes();
    const d = priv.bytes();
    const jwk: JsonWebKey = { kty: 'EC', crv, x: toB64u(point.subarray(1, 1 + len)), y: toB64u(point.subarray(1 + len)), d: toB64u(fixed(d, len)) };
    return { jwk, comment: priv.text() };
  }
  throw new Error(`unsupported key type ${type}`);
}

function agentKey(key: KeyObject, comment: string): AgentKey {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    return {
      blob: Buffer.concat([sshString('ssh-ed25519'), sshString(b64u(jwk.x))]),
      comment,
      sign: (data) => Buffer.concat([sshString('ssh-ed25519'), sshString(sign(null, data, key))]),
    };
  }
  if (jwk.kty === 'RSA') {
    return {
      blob: Buffer.concat([sshString('ssh-rsa'), mpint(b64u(jwk.e)), mpint(b64u(jwk.n))]),
      comment,
      sign(data, flags) {
        const [name, hash] = flags & RSA_SHA2_512 ? ['rsa-sha2-512', 'sha512'] : flags & RSA_SHA2_256 ? ['rsa-sha2-256', 'sha256'] : ['ssh-rsa', 'sha1'];
        return Buffer.concat([sshString(name!), sshString(sign(hash!, data, key))]);
      },
    };
  }
  const curve = jwk.kty === 'EC' ? CURVES[jwk.crv ?? ''] : undefined;
  if (curve) {
    const type = `ecdsa-sha2-${curve.ssh}`;
    const point = Buffer.concat([Buffer.from([4]), b64u(jwk.x), b64u(jwk.y)]);
    return {
      blob: Buffer.concat([sshString(type), sshString(curve.ssh), sshString(point)]),
      comment,
      sign(data) {
        const rs = sign(curve.hash, data, { key, dsaEncoding: 'ieee-p1363' });
        const half = rs.length / 2;
        return Buffer.concat([sshString(type), sshString(Buffer.concat([mpint(rs.subarray(0, half)), mpint(rs.subarray(half))]))]);
      },
    };
  }
  throw new Error(`unsupported key type ${jwk.kty}`);
}

/** Parses a private key file's text; `label` names it in errors. */
export function parsePrivateKey(text: string, label: string): AgentKey {
  try {
    const openssh = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
    if (openssh) {
      const { jwk, comment } = openSshJwk(Buffer.from(openssh[1]!.replace(/\s+/g, ''), 'base64'));
      return agentKey(createPrivateKey({ key: jwk, format: 'jwk' }), comment);
    }
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
      if (/ENCRYPTED/.test(text)) throw new SshKeyError('passphrase-protected');
      return agentKey(createPrivateKey(text), '');
    }
    throw new Error(/^(ssh-|ecdsa-)/.test(text) ? 'a public key; --ssh needs the private key file' : 'not a private key');
  } catch (e) {
    if (e instanceof SshKeyError) throw new SshKeyError(`${label} is passphrase-protected; add it to an ssh-agent and pass the agent's socket instead`);
    throw new SshKeyError(`${label}: ${(e as Error).message}`);
  }
}
