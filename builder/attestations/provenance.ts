// The SLSA v0.2 provenance statement BuildKit attaches to an image
// (`--provenance`, `--attest type=provenance`): an in-toto statement whose
// subject is the image manifest and whose predicate says who built it
// (builder.id), from what (configSource, materials: the base images by
// digest), with which parameters and when. mode=min leaves out the build
// arguments, as BuildKit does; mode=max records them and the target.
import { randomBytes } from '../../runner-native/native-crypto.js';
import type { Digest } from '../../cache/digest.js';
import { hexOf } from '../../cache/digest.js';
import { UsageError } from '../errors.js';
import type { Platform } from '../image/types.js';
import { parseReference } from '../image/reference.js';

export const IN_TOTO_MEDIA_TYPE = 'application/vnd.in-toto+json';
export const SLSA_V02_PREDICATE = 'https://slsa.dev/provenance/v0.2';
export const BUILDKIT_BUILD_TYPE = 'https://mobyproject.org/buildkit@v1';

export type ProvenanceMode = 'min' | 'max';

/** What the build asked for: only a provenance attestation, in one of BuildKit's two modes. */
export interface AttestationRequest {
  provenance?: { mode: ProvenanceMode; builderId?: string };
}

/** What the build knows about itself when the image is assembled. */
export interface ProvenanceFacts {
  dockerfileName: string;
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  platform: Platform;
  /** Every image a stage started from or copied out of, by digest when known. */
  materials: Array<{ ref: string; digest?: string; platform: Platform }>;
  startedOn: Date;
  finishedOn: Date;
}

/** `--provenance` values as buildx reads them: a bool, or `mode=...[,builder-id=...]`. */
export function parseProvenanceFlag(value: string): AttestationRequest['provenance'] | null {
  const v = value.trim();
  if (v === '' || v === 'true' || v === '1') return { mode: 'min' };
  if (v === 'false' || v === '0') return null;
  const attrs = new Map(v.split(',').map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid --provenance "${value}": expected true, false or mode=min|max`);
    return [kv.slice(0, eq).trim(), kv.slice(eq + 1).trim()] as const;
  }));
  return provenanceFromAttrs(attrs, `--provenance ${value}`);
}

/** The attributes of `--attest type=provenance,...` (or of --provenance mode=...). */
export function provenanceFromAttrs(attrs: ReadonlyMap<string, string>, what: string): AttestationRequest['provenance'] | null {
  if (attrs.get('disabled') === 'true') return null;
  const mode = attrs.get('mode') ?? 'min';
  if (mode !== 'min' && mode !== 'max') throw new UsageError(`${what}: invalid mode "${mode}" (expected min or max)`);
  for (const key of attrs.keys()) {
    if (!['type', 'mode', 'disabled', 'builder-id'].includes(key)) throw new UsageError(`${what}: unknown attribute "${key}" (supported: mode, builder-id, disabled)`);
  }
  const builderId = attrs.get('builder-id');
  return { mode, ...(builderId ? { builderId } : {}) };
}

function platformString(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** A package URL for an image reference, as BuildKit writes materials and subjects. */
export function imagePurl(ref: string, platform?: Platform): string {
  const r = parseReference(ref);
  const name = r.domain === 'docker.io' ? r.path.replace(/^library\//, '') : `${r.domain}/${r.path}`;
  const version = r.tag ?? r.digest ?? 'latest';
  const qs = platform ? `?platform=${encodeURIComponent(platformString(platform))}` : '';
  return `pkg:docker/${name}@${version}${qs}`;
}

function digestSet(d: string): Record<string, string> {
  const colon = d.indexOf(':');
  return { [d.slice(0, colon)]: d.slice(colon + 1) };
}

export function provenanceStatement(
  subject: { digest: Digest; names: readonly string[]; platform: Platform },
  facts: ProvenanceFacts,
  request: NonNullable<AttestationRequest['provenance']>,
): Record<string, unknown> {
  const names = subject.names.length > 0 ? subject.names.map((n) => imagePurl(n, subject.platform)) : ['_'];
  const seen = new Set<string>();
  const materials = facts.materials.filter((m) => {
    const key = `${m.ref}@${m.digest ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }).map((m) => ({ uri: imagePurl(m.ref, m.platform), digest: m.digest ? digestSet(m.digest) : {} }));
  const parameters: Record<string, unknown> = { frontend: 'dockerfile.v0' };
  if (request.mode === 'max') {
    const args: Record<string, string> = {};
    for (const [k, v] of facts.buildArgs) args[`build-arg:${k}`] = v;
    if (facts.target) args.target = facts.target;
    parameters.args = args;
    parameters.locals = [{ name: 'context' }, { name: 'dockerfile' }];
  }
  return {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: SLSA_V02_PREDICATE,
    subject: names.map((name) => ({ name, digest: { sha256: hexOf(subject.digest) } })),
    predicate: {
      builder: { id: request.builderId ?? '' },
      buildType: BUILDKIT_BUILD_TYPE,
      materials,
      invocation: {
        configSource: { entryPoint: facts.dockerfileName },
        parameters,
        environment: { platform: platformString(facts.platform) },
      },
      metadata: {
        buildInvocationID: randomBytes(16).toString('hex').slice(0, 25),
        buildStartedOn: facts.startedOn.toISOString(),
        buildFinishedOn: facts.finishedOn.toISOString(),
        // Build args are only all recorded in max mode; base images are all listed by digest.
        completeness: { parameters: request.mode === 'max', environment: true, materials: false },
        reproducible: false,
      },
    },
  };
}
