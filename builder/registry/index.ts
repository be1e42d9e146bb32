// The registry client's public surface for the rest of tsbuild.
export { pullImage, resolveRemote, type PullOptions, type PullResult, type RemoteImage, type RemoteOptions } from './pull.js';
export { pushImage, type PushOptions, type PushResult } from './push.js';
export { login, logout } from './login.js';
export { getCredentials, storeCredentials, eraseCredentials, dockerConfigPath, type Credentials } from './docker-config.js';
export { loadRegistrySettings, isInsecureRegistry, registryFromServerArg, SETTINGS_FILE, type RegistrySettings } from './settings.js';
export { RegistryError, type RegistryErrorCode } from './errors.js';
export type { ProgressHandler, TransferEvent, TransferPhase } from './progress.js';
