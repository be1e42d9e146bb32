// Registry authentication: anonymous, HTTP Basic, and bearer tokens from
// the token server a `WWW-Authenticate: Bearer realm=..,service=..,scope=..`
// challenge points at (the Docker token protocol). Tokens are cached per
// realm, service, scope set and user for the life of the process, so the
// many requests of one pull share one token.

import { createHash } from '../../runner-native/native-crypto.js';
import { RegistryError, TransientError } from './errors.js';
import { readBody, send } from './http.js';
import type { Credentials } from './docker-config.js';
import { withRetry, type RetryOptions } from './retry.js';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parse `Bearer realm="x",service="y", Basic realm="z"` into challenges (scheme lower-cased). */
export function parseChallenges(value: string): Challenge[] {
  const challenges: Challenge[] = [];
  const re = /\s*([A-Za-z][\w-]*)(?:\s+|$)|\s*([\w-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)\s*,?/gy;
  let m: RegExpExecArray | null;
  let current: Challenge | undefined;
  while (re.lastIndex < value.length && (m = re.exec(value)) !== null) {
    if (m[0] === '') break;
    if (m[1] !== undefined) {
      current = { scheme: m[1].toLowerCase(), params: {} };
      challenges.push(current);
    } else if (current && m[2] !== undefined) {
      current.params[m[2].toLowerCase()] = m[4] !== undefined ? m[4].replace(/\\(.)/g, '$1') : m[3]!;
    }
  }
  return challenges;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

const tokenCache = new Map<string, CachedToken>();
// Refresh a little early so a token never expires between check and use.
const EXPIRY_MARGIN_MS = 10_000;

export interface AuthContext {
  /** For messages: the registry and the reference being worked on. */
  registry: string;
  label: string;
  credentials: Credentials | undefined;
  scopes: string[];
  retry?: RetryOptions;
}

export function basicHeader(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
}

export function authFailure(ctx: Pick<AuthContext, 'registry' | 'label' | 'credentials'>): RegistryError {
  if (ctx.credentials) {
    return new RegistryError(
      'REGISTRY_UNAUTHORIZED',
      `authentication to ${ctx.registry} failed for ${ctx.label}: wrong username or password for user "${ctx.credentials.username}"`,
    );
  }
  return new RegistryError('REGISTRY_UNAUTHORIZED', `${ctx.registry} requires authentication for ${ctx.label}; run "tsbuild login ${ctx.registry}"`);
}

async function fetchToken(ctx: AuthContext, params: Record<string, string>, fresh: boolean): Promise<string> {
  const realm = params['realm'];
  if (!realm) throw new RegistryError('REGISTRY_PROTOCOL', `${ctx.registry} sent a Bearer challenge without a realm`);
  const scopes = [...new Set(ctx.scopes)].sort();
  // The password's hash is part of the key: a later login with other credentials must not reuse this token.
  const who = ctx.credentials ? `${ctx.credentials.username}:${createHash('sha256').update(ctx.credentials.password).digest('hex')}` : '';
  const key = JSON.stringify([realm, params['service'] ?? '', scopes, who]);
  const cached = tokenCache.get(key);
  if (!fresh && cached && cached.expiresAt > Date.now()) return cached.token;
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new RegistryError('REGISTRY_PROTOCOL', `${ctx.registry} named an invalid token realm ${JSON.stringify(realm)}`);
  }
  if (params['service']) url.searchParams.set('service', params['service']);
  for (const s of scopes) url.searchParams.append('scope', s);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (ctx.credentials) headers['Authorization'] = basicHeader(ctx.credentials);
  const body = await withRetry(async () => {
    const res = await send({ method: 'GET', url, headers });
    if (res.status === 401 || res.status === 403) {
      await readBody(res).catch(() => undefined);
      throw authFailure(ctx);
    }
    if (res.status >= 500 || res.status === 429) {
      await readBody(res).catch(() => undefined);
      throw new TransientError(`token server ${url.host} answered ${res.status}`);
    }
    const text = await readBody(res, 1 << 20);
    if (res.status !== 200) throw new RegistryError('REGISTRY_ERROR', `token server ${url.host} of ${ctx.registry} answered ${res.status} for ${ctx.label}`);
    return text;
  }, ctx.retry);
  let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
  } catch {
    throw new RegistryError('REGISTRY_PROTOCOL', `token server ${url.host} of ${ctx.registry} sent invalid JSON`);
  }
  const token = typeof parsed.token === 'string' && parsed.token ? parsed.token : parsed.access_token;
  if (typeof token !== 'string' || token === '') throw new RegistryError('REGISTRY_PROTOCOL', `token server ${url.host} of ${ctx.registry} sent no token`);
  // The spec's default lifetime is 60 s when expires_in is absent.
  const lifetime = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in * 1000 : 60_000;
  tokenCache.set(key, { token, expiresAt: Date.now() + lifetime - EXPIRY_MARGIN_MS });
  return token;
}

/**
 * Holds the Authorization header one client sends, and answers challenges.
 * `respond` returns false when it has nothing new to offer (no challenge we
 * understand), so the caller reports the 401 instead of looping.
 */
export class Authenticator {
  private value: string | undefined;

  constructor(private readonly ctx: AuthContext) {}

  header(): string | undefined {
    return this.value;
  }

  async respond(wwwAuthenticate: string | undefined, fresh: boolean): Promise<boolean> {
    const challenges = parseChallenges(wwwAuthenticate ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      this.value = 'Bearer ' + (await fetchToken(this.ctx, bearer.params, fresh));
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic') && this.ctx.credentials) {
      const next = basicHeader(this.ctx.credentials);
      const changed = next !== this.value;
      this.value = next;
      return changed;
    }
    return false;
  }

  failure(): RegistryError {
    return authFailure(this.ctx);
  }
}
