// The build flags a request may carry beyond the context and the outputs
// (--network, --annotation, --provenance/--attest, --build-context, the RUN
// resource flags, the client's TSBUILD_OFFLINE): checked in shape and
// against the server's policy before anything runs, then turned into the
// build's options as the CLI would have.
import type { BuildOptions } from '../pipeline/options.js';
import { RemoteError } from '../remote/errors.js';
import { unresolvableContext, type BuildRequest } from '../remote/protocol.js';
import { parseCgroupParent } from '../steps/run-resources.js';

type FlagFields = Pick<BuildRequest, 'network' | 'offline' | 'annotations' | 'attestations' | 'buildContexts' | 'runResources'>;

const bad = (what: string) => new RemoteError('REMOTE_PROTOCOL', `malformed build request: ${what}`);
const isString = (s: unknown): s is string => typeof s === 'string';
const isCount = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

export function checkBuildFlags(req: FlagFields & { allow: string[] }, allowInsecure: string[]): void {
  if (req.network !== undefined && !['default', 'none', 'host'].includes(req.network)) throw bad('network');
  if (req.offline !== undefined && typeof req.offline !== 'boolean') throw bad('offline');
  if (req.annotations !== undefined && !(Array.isArray(req.annotations) && req.annotations.every((p) => Array.isArray(p) && p.length === 2 && p.every(isString)))) throw bad('annotations');
  const prov = req.attestations?.provenance;
  if (req.attestations !== undefined && (typeof req.attestations !== 'object' || req.attestations === null)) throw bad('attestations');
  if (prov !== undefined && (!['min', 'max'].includes(prov?.mode) || (prov.builderId !== undefined && !isString(prov.builderId)))) throw bad('attestations');
  if (req.buildContexts !== undefined && !(Array.isArray(req.buildContexts) && req.buildContexts.every((c) => isString(c?.name) && c.name !== '' && isString(c.value)))) throw bad('buildContexts');
  checkRunResources(req.runResources);
  // Never a path on the server: a client names only what it could reach itself.
  for (const { name, value } of req.buildContexts ?? []) {
    const why = unresolvableContext(value);
    if (why) throw new RemoteError('REMOTE_UNSUPPORTED', `--build-context ${name}=${value}: ${why}`);
  }
  // The host's network is the server's: as buildkitd, only when its operator allows it.
  if ((req.network === 'host' || req.allow.includes('network.host')) && !allowInsecure.includes('network.host')) {
    throw new RemoteError('REMOTE_UNSUPPORTED', 'network.host is not allowed by this server (start it with --allow-insecure-entitlement network.host)');
  }
  if (req.network === 'host' && !req.allow.includes('network.host')) throw new RemoteError('REMOTE_UNSUPPORTED', '--network=host needs --allow network.host');
}

function checkRunResources(r: BuildRequest['runResources']): void {
  if (r === undefined) return;
  if (typeof r !== 'object' || r === null || !Array.isArray(r.addHosts) || !Array.isArray(r.ulimits)) throw bad('runResources');
  if (!r.addHosts.every((h) => isString(h?.host) && isString(h.ip) && !/[\s]/.test(h.host + h.ip))) throw bad('runResources.addHosts');
  if (!r.ulimits.every((u) => isString(u?.type) && /^RLIMIT_[A-Z]+$/.test(u.type) && isCount(u.soft) && isCount(u.hard))) throw bad('runResources.ulimits');
  if (r.shmSize !== undefined && !(isCount(r.shmSize) && r.shmSize > 0)) throw bad('runResources.shmSize');
  if (r.cgroupParent !== undefined && (!isString(r.cgroupParent) || parseCgroupParentSafe(r.cgroupParent) !== r.cgroupParent)) throw bad('runResources.cgroupParent');
}

function parseCgroupParentSafe(value: string): string | undefined {
  try {
    return parseCgroupParent(value);
  } catch {
    return undefined;
  }
}

/** The build options these flags stand for; absent fields keep a local build's defaults. */
export function buildFlagOptions(req: FlagFields): Partial<BuildOptions> {
  return {
    ...(req.network ? { network: req.network } : {}),
    ...(req.offline ? { offline: true } : {}),
    ...(req.annotations ? { annotations: new Map(req.annotations) } : {}),
    ...(req.attestations?.provenance ? { attestations: { provenance: req.attestations.provenance } } : {}),
    ...(req.buildContexts ? { buildContexts: req.buildContexts.map(({ name, value }) => ({ name, value })) } : {}),
    ...(req.runResources ? { runResources: req.runResources } : {}),
  };
}
