// Image references as distribution/reference reads them: validation
// ("invalid reference format") and Docker Hub normalisation
// (`busybox` → `docker.io/library/busybox:latest`).
import { DockerfileError } from '../errors.js';

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN = `${HOST}(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const HEX64 = /^[a-f0-9]{64}$/;

export interface ImageReference {
  /** Fully qualified repository, e.g. `docker.io/library/busybox`. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
  /** The reference with `:latest` added when neither tag nor digest was given (reference.TagNameOnly). */
  readonly normalized: string;
}

export class ReferenceError extends DockerfileError {
  constructor(readonly reference: string, reason: string) {
    super('BAD_REFERENCE', reason);
  }
}

/** Docker's splitDockerDomain: the first component is a registry only if it looks like a host. */
function splitDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  let domain: string;
  let rest: string;
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = 'docker.io';
    rest = name;
  } else {
    domain = first;
    rest = name.slice(slash + 1);
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !rest.includes('/')) rest = `library/${rest}`;
  return [domain, rest];
}

/** reference.ParseNormalizedNamed + TagNameOnly. @throws ReferenceError */
export function parseImageReference(text: string): ImageReference {
  if (HEX64.test(text)) {
    throw new ReferenceError(text, `invalid repository name (${text}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, rest] = splitDomain(text);
  const colon = rest.indexOf(':');
  const remoteName = colon < 0 ? rest.replace(/@.*$/, '') : rest.slice(0, colon);
  if (remoteName.toLowerCase() !== remoteName) {
    throw new ReferenceError(text, `invalid reference format: repository name (${remoteName}) must be lowercase`);
  }
  const match = REFERENCE.exec(`${domain}/${rest}`);
  if (!match) throw new ReferenceError(text, 'invalid reference format');
  const repository = match[1]!;
  if (repository.length > 255) throw new ReferenceError(text, 'repository name must not be more than 255 characters');
  const tag = match[2];
  const digest = match[3];
  let normalized = repository;
  if (tag !== undefined) normalized += `:${tag}`;
  if (digest !== undefined) normalized += `@${digest}`;
  if (tag === undefined && digest === undefined) normalized += ':latest';
  return {
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    normalized,
  };
}
