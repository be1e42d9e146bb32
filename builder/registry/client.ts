// A client for one repository on one registry endpoint: finds the scheme
// (insecure registries: HTTPS without verification, then plain HTTP),
// authenticates against the `/v2/` challenge before the first real request
// (so no upload body is ever sent just to learn that a token is needed),
// retries transient failures, and turns every other failure into a one-line
// RegistryError naming the registry and the reference.

import type { Credentials } from './docker-config.js';
import { getCredentials } from './docker-config.js';
import { Authenticator } from './auth.js';
import { RegistryError, TransientError } from './errors.js';
import { discard, header, readBody, send, type HttpResponse, type RequestBody } from './http.js';
import { errorCode, isTransient, parseRetryAfter, withRetry, type RetryOptions } from './retry.js';
import type { Endpoint } from './settings.js';

export type Action = 'pull' | 'push';

export interface ClientOptions {
  endpoint: Endpoint;
  /** Repository path in the registry: `library/busybox`. */
  repository: string;
  /** The reference being worked on, for messages. */
  label: string;
  actions: Action[];
  /** Other repositories of the same registry we may mount blobs from (pull scope on them). */
  mountFrom?: string[];
  /** undefined: look up the docker config; null: anonymous. */
  credentials?: Credentials | null;
  retry?: RetryOptions;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Statuses that are answers for this call; anything else becomes an error. */
  ok: number[];
  /** false: one try, raw errors (the caller resumes in its own way). */
  retry?: boolean;
}

// The scheme that answered, per host, for the life of the process.
const schemeCache = new Map<string, 'https' | 'http'>();

export class RegistryClient {
  readonly registry: string;
  readonly repository: string;
  readonly label: string;
  private base: URL | undefined;
  private ready: Promise<void> | undefined;
  private readonly auth: Authenticator;

  private constructor(
    readonly endpoint: Endpoint,
    private readonly opts: ClientOptions,
    credentials: Credentials | undefined,
  ) {
    this.registry = endpoint.mirror ? `mirror ${endpoint.host} of ${endpoint.registry}` : endpoint.registry;
    this.repository = opts.repository;
    this.label = opts.label;
    const scopes = [...(opts.actions.length > 0 ? [`repository:${opts.repository}:${opts.actions.join(',')}`] : []), ...(opts.mountFrom ?? []).map((r) => `repository:${r}:pull`)];
    this.auth = new Authenticator({ registry: this.registry, label: opts.label, credentials, scopes, retry: opts.retry });
  }

  static async create(opts: ClientOptions): Promise<RegistryClient> {
    const key = opts.endpoint.mirror ? opts.endpoint.host : opts.endpoint.registry;
    const credentials = opts.credentials === undefined ? await getCredentials(key) : (opts.credentials ?? undefined);
    return new RegistryClient(opts.endpoint, opts, credentials);
  }

  /** `/v2/<repository>/<suffix>` as a URL on this endpoint. */
  async repoUrl(suffix: string): Promise<URL> {
    await this.ensureReady();
    return new URL(`${this.endpoint.pathPrefix}/v2/${this.repository}/${suffix}`, this.base);
  }

  /** Resolve a `Location` header (absolute or relative to the endpoint). */
  resolveLocation(location: string | undefined, res: HttpResponse): URL {
    if (!location) throw new RegistryError('REGISTRY_PROTOCOL', `${this.registry} sent no Location header (${this.label})`);
    return new URL(location, res.url);
  }

  /** Check the endpoint answers and that our credentials are accepted (`tsbuild login`). */
  async verifyLogin(): Promise<void> {
    await this.ensureReady();
    const res = await this.request('GET', new URL(`${this.endpoint.pathPrefix}/v2/`, this.base), { ok: [200] });
    await discard(res);
  }

  ensureReady(): Promise<void> {
    this.ready ??= this.ping().catch((e) => {
      this.ready = undefined; // let a later call try again
      throw e;
    });
    return this.ready;
  }

  private async ping(): Promise<void> {
    const { host, schemes } = this.endpoint;
    const cached = schemeCache.get(host);
    const order = cached ? [cached] : schemes;
    let lastError: unknown;
    for (const [i, scheme] of order.entries()) {
      const base = new URL(`${scheme}://${host}`);
      const url = new URL(`${this.endpoint.pathPrefix}/v2/`, base);
      const last = i === order.length - 1;
      try {
        const probe = () => this.sendOnce('GET', url, {}, undefined, false);
        const res = last ? await withRetry(probe, this.opts.retry) : await this.probeOnce(probe);
        await discard(res);
        this.base = base;
        schemeCache.set(host, scheme);
        if (res.status === 401) await this.auth.respond(header(res, 'www-authenticate'), false);
        else if (res.status === 404) throw new RegistryError('REGISTRY_PROTOCOL', `${this.registry} does not serve the registry API (/v2/ answered 404) for ${this.label}`);
        return;
      } catch (e) {
        if (e instanceof RegistryError) throw e;
        lastError = e;
      }
    }
    throw this.describe(lastError);
  }

  /**
   * The HTTPS probe of an insecure registry: a connection or TLS failure
   * means "try the next scheme"; an HTTP answer (even a 5xx) means HTTPS is
   * spoken here, so that one is retried as usual.
   */
  private async probeOnce(probe: () => Promise<HttpResponse>): Promise<HttpResponse> {
    try {
      return await probe();
    } catch (e) {
      if (!(e instanceof TransientError)) throw e;
      return withRetry(probe, this.opts.retry);
    }
  }

  private async sendOnce(method: string, url: URL, headers: Record<string, string>, body: RequestBody | undefined, withAuth: boolean): Promise<HttpResponse> {
    const h = { ...headers };
    const auth = withAuth ? this.auth.header() : undefined;
    if (auth) h['Authorization'] = auth;
    const res = await send({ method, url, headers: h, body, insecureTls: this.endpoint.insecureTls });
    if (res.status >= 500 || res.status === 429) {
      await discard(res);
      throw new TransientError(`${this.registry} answered ${res.status} to ${method} ${url.pathname}`, parseRetryAfter(header(res, 'retry-after')));
    }
    return res;
  }

  async request(method: string, target: string | URL, opts: RequestOptions): Promise<HttpResponse> {
    await this.ensureReady();
    const url = typeof target === 'string' ? await this.repoUrl(target) : target;
    const attempt = async (): Promise<HttpResponse> => {
      let res = await this.sendOnce(method, url, opts.headers ?? {}, opts.body, true);
      if (res.status === 401) {
        const challenge = header(res, 'www-authenticate');
        await discard(res);
        // A fresh token (it may have expired) or credentials we had not sent yet; else it is final.
        if (!(await this.auth.respond(challenge, true))) throw this.auth.failure();
        res = await this.sendOnce(method, url, opts.headers ?? {}, opts.body, true);
        if (res.status === 401) {
          await discard(res);
          throw this.auth.failure();
        }
      }
      if (opts.ok.includes(res.status)) return res;
      throw await this.statusFailure(res, method);
    };
    if (opts.retry === false) return attempt();
    try {
      return await withRetry(attempt, this.opts.retry);
    } catch (e) {
      throw this.describe(e);
    }
  }

  /** A whole small response body (manifest, config), the body read inside the retry loop too. */
  async fetchBuffer(method: string, target: string | URL, opts: RequestOptions, limit: number): Promise<{ res: HttpResponse; body: Buffer }> {
    try {
      return await withRetry(async () => {
        const res = await this.request(method, target, { ...opts, retry: false });
        return { res, body: await readBody(res, limit) };
      }, this.opts.retry);
    } catch (e) {
      throw this.describe(e);
    }
  }

  /** An error registries answer with: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}`. */
  async statusFailure(res: HttpResponse, method: string): Promise<RegistryError> {
    const text = method === 'HEAD' ? '' : (await readBody(res, 64 << 10).catch(() => Buffer.alloc(0))).toString('utf8');
    let first: { code?: string; message?: string } | undefined;
    try {
      first = (JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> }).errors?.[0];
    } catch {
      first = undefined;
    }
    const detail = first?.code ? `${first.code}${first.message ? `: ${first.message}` : ''}` : `HTTP ${res.status}`;
    if (res.status === 404) {
      if (first?.code === 'BLOB_UNKNOWN' || first?.code === 'BLOB_UPLOAD_UNKNOWN') {
        return new RegistryError('BLOB_UNKNOWN', `${this.registry} does not have ${res.url.pathname.split('/').pop()} for ${this.label} (${detail})`);
      }
      return new RegistryError('MANIFEST_UNKNOWN', `${this.label} not found in ${this.registry} (${detail})`);
    }
    if (res.status === 403) return new RegistryError('REGISTRY_DENIED', `${this.registry} denied access to ${this.label} (${detail})`);
    return new RegistryError('REGISTRY_ERROR', `${this.registry} refused ${method} ${res.url.pathname} for ${this.label} (${detail})`);
  }

  /** A one-line user error for a failure that got through the retries. */
  describe(err: unknown): unknown {
    if (err instanceof RegistryError) return err;
    const code = errorCode(err);
    const host = this.endpoint.host;
    if (code === 'ECONNREFUSED') return new RegistryError('REGISTRY_UNREACHABLE', `cannot reach ${this.registry} for ${this.label}: connection refused by ${host}`, { cause: err });
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new RegistryError('REGISTRY_UNREACHABLE', `cannot reach ${this.registry} for ${this.label}: unknown host ${host}`, { cause: err });
    if (code?.startsWith('ERR_TLS') || code?.startsWith('ERR_SSL') || code === 'EPROTO' || /certificate/i.test((err as Error)?.message ?? '')) {
      return new RegistryError('REGISTRY_UNREACHABLE', `TLS with ${this.registry} failed for ${this.label}: ${(err as Error).message} (add it to TSBUILD_INSECURE_REGISTRIES if it has no valid certificate)`, { cause: err });
    }
    if (err instanceof TransientError) {
      return new RegistryError('REGISTRY_ERROR', `${this.registry} kept failing for ${this.label}: ${err.message}`, { cause: err });
    }
    if (isTransient(err)) {
      return new RegistryError('REGISTRY_UNREACHABLE', `connection to ${this.registry} kept failing for ${this.label}: ${(err as Error).message}`, { cause: err });
    }
    return err;
  }
}
