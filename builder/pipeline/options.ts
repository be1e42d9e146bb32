// Everything a build needs to know, independent of how it was asked for
// (CLI today, the build server later).

export interface OutputSpec {
  type: 'image' | 'oci' | 'docker' | 'local' | 'tar' | 'registry';
  attrs: Map<string, string>;
}

export interface SecretSpec {
  id: string;
  src?: string;
  env?: string;
}

export interface SshSpec {
  id: string;
  paths: string[];
}

export interface CacheSpec {
  type: string;
  attrs: Map<string, string>;
}

export type CallMode = 'build' | 'outline' | 'targets' | 'check';

export interface BuildOptions {
  contextDir: string;
  dockerfilePath?: string;        // undefined when the Dockerfile came from stdin
  dockerfileText: string;
  dockerfileName: string;         // for messages: 'Dockerfile', 'app.Dockerfile', ...
  tags: string[];
  buildArgs: Map<string, string>;
  labels: Map<string, string>;
  target?: string;
  platforms: string[];
  noCache: boolean;
  noCacheFilter: string[];
  pull: boolean;
  progress: 'auto' | 'plain' | 'tty' | 'rawjson' | 'quiet';
  outputs: OutputSpec[];
  iidFile?: string;
  metadataFile?: string;
  secrets: SecretSpec[];
  ssh: SshSpec[];
  cacheFrom: CacheSpec[];
  cacheTo: CacheSpec[];
  call: CallMode;
  allow: string[];
  push: boolean;
  runtime: 'native' | 'runc' | 'crun';   // what runs RUN steps: our sandbox, or an installed OCI runtime
}
