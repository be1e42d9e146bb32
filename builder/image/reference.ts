// Image references, normalised the way Docker does (distribution/reference):
//   busybox              -> docker.io/library/busybox:latest
//   me/app:v1            -> docker.io/me/app:v1
//   localhost:5000/x     -> localhost:5000/x:latest   (the host is kept)
//   busybox@sha256:...   -> docker.io/library/busybox@sha256:...  (no default tag)

import { ImageError } from './errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';

export interface ImageReference {
  /** Registry host, with port if any: `docker.io`, `localhost:5000`. */
  domain: string;
  /** Repository path inside the registry: `library/busybox`. */
  path: string;
  tag?: string;
  /** `sha256:<hex>` when the reference pins a digest. */
  digest?: string;
}

// Grammar of distribution/reference, rewritten as anchored JS regexps.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const FULL_HEX_ID = /^[a-f0-9]{64}$/;
const MAX_NAME_LENGTH = 255;

function invalid(input: string, why: string): ImageError {
  return new ImageError('INVALID_REFERENCE', `invalid reference format ${JSON.stringify(input)}: ${why}`);
}

/**
 * Parse and normalise an image reference. A missing tag becomes `latest`
 * unless the reference has a digest (or `defaultTag` is false).
 */
export function parseReference(input: string, opts: { defaultTag?: boolean } = {}): ImageReference {
  const s = input.trim();
  if (s === '') throw invalid(input, 'empty');
  // A bare 64-hex string is an image id, never a repository name (Docker refuses it too).
  if (FULL_HEX_ID.test(s)) throw invalid(input, 'cannot specify 64-byte hexadecimal strings as a repository name');

  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(input, 'invalid digest');
    if (digest.startsWith('sha256:') && !SHA256_DIGEST.test(digest)) throw invalid(input, 'invalid sha256 digest');
  }

  // The tag separator is a ':' after the last '/', so `localhost:5000/x` is not mistaken for a tag.
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(input, 'invalid tag');
  }

  const { domain, path } = splitDomain(rest, input);
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      if (component.toLowerCase() !== component && PATH_COMPONENT.test(component.toLowerCase())) {
        throw invalid(input, 'repository name must be lowercase');
      }
      throw invalid(input, `invalid repository path component ${JSON.stringify(component)}`);
    }
  }
  if (`${domain}/${path}`.length > MAX_NAME_LENGTH) throw invalid(input, `repository name longer than ${MAX_NAME_LENGTH} characters`);

  if (tag === undefined && digest === undefined && opts.defaultTag !== false) tag = DEFAULT_TAG;
  const ref: ImageReference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Docker's rule: the first component is a registry host if it has a '.' or ':', is `localhost`, or has upper case. */
function splitDomain(name: string, input: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  let domain: string;
  let path: string;
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    path = name;
  } else {
    domain = first;
    path = name.slice(slash + 1);
    if (!DOMAIN.test(domain)) throw invalid(input, `invalid registry host ${JSON.stringify(domain)}`);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (path === '') throw invalid(input, 'empty repository name');
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;
  return { domain, path };
}

/** `docker.io/library/busybox` */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The full normalised string: `docker.io/library/busybox:latest`, `localhost:5000/x@sha256:...`. */
export function formatReference(ref: ImageReference): string {
  return repositoryName(ref) + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** Repository name as Docker shows it: `busybox`, `me/app`, `localhost:5000/x`. */
export function familiarRepository(ref: ImageReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  return ref.path.startsWith(OFFICIAL_REPO_PREFIX) && ref.path.split('/').length === 2
    ? ref.path.slice(OFFICIAL_REPO_PREFIX.length)
    : ref.path;
}

/** The reference as Docker shows it: `busybox:latest`, `localhost:5000/x:v1`, `busybox@sha256:...`. */
export function familiarName(ref: ImageReference): string {
  return familiarRepository(ref) + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** Parse then format: the canonical key we store tags under. */
export function normalizeReference(input: string): string {
  return formatReference(parseReference(input));
}
