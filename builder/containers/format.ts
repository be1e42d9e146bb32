// How `tsbuild ps` shows a container, in docker's words.
import type { Container } from './container-store.js';
import { healthSuffix } from './health.js';
import { formatPorts } from './port-proxy.js';

/** docker's units.HumanDuration: "Less than a second", "5 seconds", "About a minute", "3 hours", ... */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.round(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.round(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.round(h / 24 / 30)} months`;
  return `${Math.round(h / 24 / 365)} years`;
}

export function statusText(c: Container, now = Date.now()): string {
  const s = c.state;
  if (s.restarting) return `Restarting (${s.exitCode ?? 0}) ${humanDuration(now - Date.parse(s.finishedAt ?? c.config.created))} ago`;
  if (s.status === 'running') return `Up ${humanDuration(now - Date.parse(s.startedAt ?? c.config.created))}${healthSuffix(s.health)}`;
  if (s.status === 'exited' && s.exitCode !== undefined && s.finishedAt) {
    return `Exited (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
  }
  return 'Created';
}

/** `"httpd -f -v -p 80 …"`: the command, quoted and cut at 20 characters like docker's table. */
export function commandText(args: string[], full = false): string {
  const text = args.join(' ');
  return JSON.stringify(full || text.length <= 20 ? text : `${text.slice(0, 19)}…`);
}

export function portsText(c: Container): string {
  return c.state.status === 'running' ? formatPorts(c.state.ports ?? []) : '';
}
