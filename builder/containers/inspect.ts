// `tsbuild inspect CONTAINER`: docker's container JSON, with the fields
// scripts read (State, Config, HostConfig, Mounts, NetworkSettings.Ports).
import type { Container } from './container-store.js';
import { isActive } from './control.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

function portKey(p: { containerPort: number; protocol: string }): string {
  return `${p.containerPort}/${p.protocol}`;
}

function dockerStatus(c: Container): string {
  if (c.state.restarting) return 'restarting';
  return c.state.status;
}

export function inspectContainer(c: Container): Record<string, unknown> {
  const { config: cfg, state } = c;
  const spec = cfg.spec;
  const running = state.status === 'running';
  const ports: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const exposed of cfg.exposedPorts ?? []) ports[exposed] = null;
  const bound = running ? state.ports ?? [] : [];
  for (const p of bound) (ports[portKey(p)] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of cfg.ports) (portBindings[portKey(p)] ??= []).push({ HostIp: p.hostIp === '0.0.0.0' ? '' : p.hostIp, HostPort: p.hostPort ? String(p.hostPort) : '' });
  const records = cfg.mounts ?? [];
  const binds = records.filter((m) => m.Type === 'bind');
  const memory = spec.linux.resources?.memory?.limit ?? 0;
  const cpu = spec.linux.resources?.cpu;
  return {
    Id: cfg.id,
    Created: cfg.created,
    Path: cfg.args[0] ?? '',
    Args: cfg.args.slice(1),
    State: {
      Status: dockerStatus(c),
      Running: running,
      Paused: false,
      Restarting: state.restarting === true,
      OOMKilled: state.oomKilled === true,
      Dead: false,
      Pid: running ? state.init?.pid ?? 0 : 0,
      ExitCode: state.exitCode ?? 0,
      Error: state.error ?? '',
      StartedAt: state.startedAt ?? ZERO_TIME,
      FinishedAt: isActive(state) ? ZERO_TIME : state.finishedAt ?? ZERO_TIME,
      ...(state.health ? { Health: state.health } : {}),
    },
    Image: cfg.imageId,
    Name: `/${cfg.name}`,
    RestartCount: state.restartCount ?? 0,
    Driver: 'overlay2',
    Platform: 'linux',
    HostConfig: {
      Binds: [...binds, ...records.filter((m) => m.Type === 'volume' && !m.anonymous)].map((m) => `${m.Name ?? m.Source}:${m.Destination}${m.RW ? '' : ':ro'}`),
      Tmpfs: Object.fromEntries(records.filter((m) => m.Type === 'tmpfs').map((m) => [m.Destination, (m.options ?? []).join(',')])),
      NetworkMode: cfg.network === 'private' ? 'bridge' : cfg.network,
      PortBindings: portBindings,
      RestartPolicy: { Name: cfg.restartPolicy?.name ?? 'no', MaximumRetryCount: cfg.restartPolicy?.maximumRetryCount ?? 0 },
      AutoRemove: cfg.autoRemove,
      ReadonlyRootfs: spec.root.readonly === true,
      Memory: memory,
      NanoCpus: cpu?.quota && cpu.period ? Math.round((cpu.quota / cpu.period) * 1e9) : 0,
      PidsLimit: spec.linux.resources?.pids?.limit ?? null,
      CapAdd: cfg.capAdd ?? null,
      CapDrop: cfg.capDrop ?? null,
      Privileged: cfg.privileged === true,
    },
    Mounts: records.filter((m) => m.Type !== 'tmpfs').map((m) => ({
      Type: m.Type,
      ...(m.Name ? { Name: m.Name } : {}),
      Source: m.Source,
      Destination: m.Destination,
      ...(m.Type === 'volume' ? { Driver: 'local' } : {}),
      Mode: m.Type === 'volume' ? 'z' : '',
      RW: m.RW,
      Propagation: m.Type === 'bind' ? 'rprivate' : '',
    })),
    Config: {
      Hostname: spec.hostname ?? '',
      User: cfg.user ?? '',
      AttachStdin: false,
      Tty: cfg.tty === true,
      OpenStdin: cfg.interactive,
      Env: spec.process.env,
      Cmd: cfg.cmd ?? cfg.args,
      Image: cfg.image,
      WorkingDir: spec.process.cwd === '/' ? '' : spec.process.cwd,
      Entrypoint: cfg.entrypoint && cfg.entrypoint.length > 0 ? cfg.entrypoint : null,
      Labels: cfg.labels ?? {},
      ExposedPorts: Object.fromEntries((cfg.exposedPorts ?? []).map((p) => [p, {}])),
      StopSignal: cfg.stopSignal,
      ...(cfg.stopTimeout !== undefined ? { StopTimeout: cfg.stopTimeout } : {}),
    },
    NetworkSettings: { Ports: ports },
  };
}
