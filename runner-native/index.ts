// Public surface of runner-native: builder/ imports from here only.
export { Sandbox, DEFAULT_STATE_DIR, type SandboxOptions, type RunOptions, type SandboxResult } from './sandbox.js';
export { sandboxHelperChild } from './waiting-helper.js';
export { cleanupStale, processStartTime } from './state.js';
export { grantableCapabilities } from './capabilities.js';
export {
  defaultSpec, withSeccomp, dockerDefaultMounts, DOCKER_DEFAULT_CAPS, DOCKER_MASKED_PATHS, DOCKER_READONLY_PATHS, DEFAULT_PATH,
  type SandboxSpec, type SandboxMount, type SandboxProcess, type SandboxCapabilities, type SandboxRlimit,
  type SandboxResources, type SandboxDevice, type RootLayers, type NamespaceType, type MountType, type DefaultSpecOptions,
} from './spec.js';
export { OCI_RUNTIMES, findOciRuntime, ociRuntimeCgroupProblem, OciRuntime, type OciRuntimeName, type SandboxRuntime } from './oci-runtime.js';
export type { Runtime } from './runtime.js';
export { openRuntime } from './runtimes.js';
export { leaseNetworkNamespace, prewarmNetworkNamespace, netnsHolderChild, type NetworkLease } from './network-pool.js';
export { SLIRP_DNS, allowSlirpHostLoopback, slirpInstalled } from './slirp.js';
export { DOCKER_DEVICE_RULES, type SandboxDeviceRule } from './device-rules.js';
export { defaultSeccompProfile, parseSeccompProfile, compileSeccomp, type SeccompProfile, type OciSeccomp } from './seccomp.js';
export { toOciConfig, OCI_VERSION, type OciConfig } from './oci-runtime-config.js';
export { sandboxAvailability, defaultHelperPath, type Availability } from './availability.js';
export { packageRoot } from './package-root.js';
export { defaultHosts, type EtcFilesOptions } from './etc-files.js';
export type { OutputTarget, InputSource } from './stdio.js';
export * from './errors.js';
export { execInContainer, compileExecConfig, type ExecTarget, type ExecOptions } from './exec.js';
export { inUserNamespace, highestMappedGid, checkRootless, type RootlessCheck, type UserNamespaceMaps } from './user-namespace.js';
export { cgroupVersion } from './cgroup.js';
export { cgroupDelegation, findCgroupDelegation, type CgroupDelegation } from './cgroup-delegation.js';
