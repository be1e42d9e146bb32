// One HTTP exchange over node:http/https, with what a registry client needs
// and fetch() hides: an exact Content-Length on streamed uploads (some
// registries refuse chunked transfer encoding), redirects followed only for
// GET/HEAD (blob downloads are often sent to object storage) with the
// Authorization header dropped when the host changes, and per-socket idle
// timeouts so a stalled transfer turns into a retryable error.

import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { RegistryError } from './errors.js';
import { trustedCas } from './extra-ca.js';

export type RequestBody = Buffer | { length: number; open: () => Readable };

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Accept any certificate (configured insecure registries only). */
  insecureTls?: boolean;
  /** Idle time on the socket before the exchange fails; default 60 s. */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** The final URL after redirects (relative Location headers resolve against it). */
  url: URL;
}

const MAX_REDIRECTS = 5;

// Keep-alive pools: a pull or push makes many small requests to one host.
// Made on first use: the HTTPS one reads the user's extra CA file.
const agents: { http?: http.Agent; https?: https.Agent; httpsInsecure?: https.Agent } = {};

function agentFor(url: URL, insecureTls: boolean): http.Agent {
  if (url.protocol === 'http:') return (agents.http ??= new http.Agent({ keepAlive: true, maxSockets: 16 }));
  if (insecureTls) return (agents.httpsInsecure ??= new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false }));
  return (agents.https ??= new https.Agent({ keepAlive: true, maxSockets: 16, ca: trustedCas() }));
}

function sendOnce(req: HttpRequest, url: URL, headers: Record<string, string>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'http:' ? http : https;
    const outgoing = mod.request(url, { method: req.method, headers, agent: agentFor(url, req.insecureTls ?? false), signal: req.signal });
    outgoing.setTimeout(req.idleTimeoutMs ?? 60_000, () => {
      outgoing.destroy(Object.assign(new Error(`no data from ${url.host} for ${(req.idleTimeoutMs ?? 60_000) / 1000}s`), { code: 'ETIMEDOUT' }));
    });
    outgoing.on('error', reject);
    outgoing.on('response', (res) => {
      // The request-level timeout keeps guarding the body while it streams.
      res.on('error', () => undefined);
      resolve(res);
    });
    const body = req.body;
    if (body === undefined) {
      outgoing.end();
    } else if (Buffer.isBuffer(body)) {
      outgoing.end(body);
    } else {
      const src = body.open();
      src.on('error', (e) => outgoing.destroy(e));
      src.pipe(outgoing);
    }
  });
}

export async function send(req: HttpRequest): Promise<HttpResponse> {
  let url = req.url;
  const headers: Record<string, string> = { 'User-Agent': 'tsbuild', ...req.headers };
  if (req.body !== undefined) headers['Content-Length'] = String(Buffer.isBuffer(req.body) ? req.body.length : req.body.length);
  for (let hop = 0; ; hop++) {
    const res = await sendOnce(req, url, headers);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    const redirect = [301, 302, 303, 307, 308].includes(status) && location !== undefined;
    if (!redirect || (req.method !== 'GET' && req.method !== 'HEAD')) return { status, headers: res.headers, body: res, url };
    res.resume();
    if (hop >= MAX_REDIRECTS) throw new RegistryError('REGISTRY_PROTOCOL', `too many redirects from ${req.url.host} (last: ${location})`);
    const next = new URL(location, url);
    // Credentials for the registry must not leak to the storage backend it redirects to.
    if (next.host !== url.host) delete headers['Authorization'];
    url = next;
  }
}

/** Read a whole (small) body, refusing more than `limit` bytes. */
export async function readBody(res: HttpResponse, limit = 8 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      res.body.destroy();
      throw new RegistryError('REGISTRY_PROTOCOL', `response from ${res.url.host} is larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Drain and forget a body so the socket returns to the keep-alive pool. */
export async function discard(res: HttpResponse): Promise<void> {
  try {
    for await (const _ of res.body) void _;
  } catch {
    // A broken body we did not want anyway.
  }
}

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
