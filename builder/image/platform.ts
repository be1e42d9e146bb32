// The host platform in OCI terms, and choosing one manifest out of an index.

import os from 'node:os';
import type { Descriptor, ImageIndex, Platform } from './types.js';
import { isManifestMediaType } from './types.js';

const NODE_ARCH_TO_OCI: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips64el: 'mips64le',
  mipsel: 'mipsle',
};

export function hostPlatform(): Platform {
  let architecture = NODE_ARCH_TO_OCI[process.arch] ?? process.arch;
  // Node calls both endiannesses 'ppc64'; OCI distinguishes them.
  if (process.arch === 'ppc64') architecture = os.endianness() === 'LE' ? 'ppc64le' : 'ppc64';
  const platform: Platform = { architecture, os: process.platform === 'win32' ? 'windows' : process.platform };
  if (process.arch === 'arm') {
    const armVersion = (process.config.variables as Record<string, unknown>)['arm_version'];
    platform.variant = `v${typeof armVersion === 'string' || typeof armVersion === 'number' ? armVersion : 7}`;
  }
  return platform;
}

/** `linux/amd64`, `linux/arm/v7` */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

function matches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  // arm64 images often omit the default variant v8; treat a missing side as a match.
  return !want.variant || !have.variant || want.variant === have.variant;
}

/** Pick the manifest of `platform` (default: the host) from an index; attestation manifests are never chosen. */
export function selectManifest(index: ImageIndex, platform: Platform = hostPlatform()): Descriptor | undefined {
  const candidates = index.manifests.filter(
    (d) => isManifestMediaType(d.mediaType) && d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest',
  );
  const exact = candidates.find((d) => matches(platform, d.platform));
  if (exact) return exact;
  // Single-image indexes (OCI layouts we or docker save wrote) often carry no platform at all.
  const unlabelled = candidates.filter((d) => !d.platform);
  return unlabelled.length === 1 && candidates.length === 1 ? unlabelled[0] : undefined;
}
