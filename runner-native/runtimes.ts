// Picks the Runtime that runs a build's RUN steps, by name.
import { OciRuntime } from './oci-runtime.js';
import type { Runtime, SandboxRuntime } from './runtime.js';
import { Sandbox } from './sandbox.js';

export function openRuntime(name: SandboxRuntime, opts: { stateDir: string }): Runtime {
  const native = new Sandbox({ stateDir: opts.stateDir });
  if (name === 'native') return native;
  return new OciRuntime(name, { stateDir: native.stateDir, cgroupParent: native.cgroupParent, cgroupRoot: native.cgroupRoot });
}
