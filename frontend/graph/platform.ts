// Platform strings as containerd's `platforms` package reads and writes
// them (`linux/arm64`, `linux/arm/v7`), enough for FROM --platform and the
// predefined TARGET*/BUILD* args.
import { DockerfileError } from '../errors.js';
import type { Platform } from './types.js';

const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows']);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le',
  'mips64p32', 'mips64p32le', 'ppc', 'ppc64', 'ppc64le', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);

/** `os/arch[/variant]`, as platforms.Format writes it. */
export function formatPlatform(p: Platform): string {
  const parts = [p.os || 'unknown', p.architecture];
  if (p.variant) parts.push(p.variant);
  return parts.join('/');
}

/** containerd's normalizeArch: the aliases people write and the variant each implies. */
function normalizeArch(arch: string, variant: string): { architecture: string; variant: string } {
  arch = arch.toLowerCase();
  variant = variant.toLowerCase();
  switch (arch) {
    case 'i386':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: variant === 'v1' ? '' : variant };
    case 'aarch64':
    case 'arm64':
      return { architecture: 'arm64', variant: variant === '8' || variant === 'v8' ? '' : variant };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (variant === '' || variant === '7') return { architecture: 'arm', variant: 'v7' };
      if (variant === '5' || variant === '6' || variant === '8') return { architecture: 'arm', variant: `v${variant}` };
      return { architecture: 'arm', variant };
    default:
      return { architecture: arch, variant };
  }
}

function withVariant(os: string, architecture: string, variant: string): Platform {
  return variant ? { os, architecture, variant } : { os, architecture };
}

/**
 * Parses `linux`, `arm64`, `linux/arm64`, `linux/arm/v7`. A lone OS takes
 * the default platform's architecture and a lone architecture the default
 * OS, as containerd does with the host's. Throws a DockerfileError (no
 * location: the caller attaches it).
 */
export function parsePlatform(text: string, defaults: Platform): Platform {
  const invalid = (why: string) => new DockerfileError('BAD_PLATFORM', `failed to parse platform ${text}: ${why}`);
  if (text.includes('*')) throw invalid('wildcards are not allowed');
  const parts = text.split('/');
  if (parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) throw invalid(`"${text}" is an invalid component of "${text}": platform specifier component must match "^[A-Za-z0-9_.-]+$"`);
  if (parts.length === 1) {
    const word = parts[0]!.toLowerCase();
    if (KNOWN_OS.has(word)) return withVariant(word, defaults.architecture, defaults.variant ?? '');
    const arch = normalizeArch(word, '');
    if (KNOWN_ARCH.has(arch.architecture)) return withVariant(defaults.os, arch.architecture, arch.variant);
    throw invalid(`unknown operating system or architecture`);
  }
  if (parts.length === 2) {
    const arch = normalizeArch(parts[1]!, '');
    // containerd drops the implied default variant of a two-part arm spec.
    const variant = arch.architecture === 'arm' && arch.variant === 'v7' ? '' : arch.variant;
    return withVariant(parts[0]!.toLowerCase(), arch.architecture, variant);
  }
  if (parts.length === 3) {
    const arch = normalizeArch(parts[1]!, parts[2]!);
    return withVariant(parts[0]!.toLowerCase(), arch.architecture, arch.variant);
  }
  throw invalid('too many components');
}

/** BuildKit's system.DefaultPathEnv: the PATH a stage gets when its base sets none. */
export function defaultPathEnv(os: string): string | undefined {
  return os === 'windows' ? undefined : '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
}

export function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
}
