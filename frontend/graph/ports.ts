// EXPOSE port specs as BuildKit's convert_expose.go reads them:
// `[ip:][hostPort:]port[-end][/proto]` → `port/proto` for each port.
import { DockerfileError } from '../errors.js';

export interface PortSpec {
  readonly ports: string[];
  /** The protocol was written in upper or mixed case (ExposeProtoCasing). */
  readonly protoNotLowercase: boolean;
  /** An IP or host port was given (ExposeInvalidFormat). */
  readonly hasHostPart: boolean;
}

function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  if (parts.length === 1) return ['', '', parts[0]!];
  if (parts.length === 2) return ['', parts[0]!, parts[1]!];
  const n = parts.length;
  return [parts.slice(0, n - 2).join(':'), parts[n - 2]!, parts[n - 1]!];
}

function portNumber(text: string): number {
  if (text === '') throw new Error('value is empty');
  if (!/^[+-]?\d+$/.test(text)) throw new Error('invalid syntax');
  const n = Number(text);
  if (n < 0 || n > 65535) throw new Error('value out of range (0–65535)');
  return n;
}

function portRange(text: string): [number, number] {
  if (text === '') throw new Error('empty string specified for ports');
  const dash = text.indexOf('-');
  const start = dash < 0 ? text : text.slice(0, dash);
  const end = dash < 0 ? undefined : text.slice(dash + 1);
  const startPort = portNumber(start);
  if (end === undefined || end === start) return [startPort, startPort];
  const endPort = portNumber(end);
  if (endPort < startPort) throw new Error(`invalid port range: ${text}`);
  return [startPort, endPort];
}

/** @throws DockerfileError (no location; the caller attaches it) */
export function parsePort(raw: string): PortSpec {
  const fail = (why: string) => new DockerfileError('BAD_PORT', `invalid port: ${JSON.stringify(raw)}: ${why}`);
  const [ip, hostPort, containerPart] = splitParts(raw);
  const slash = containerPart.indexOf('/');
  const port = slash < 0 ? containerPart : containerPart.slice(0, slash);
  let proto = slash < 0 ? '' : containerPart.slice(slash + 1);
  if (port === '') throw fail('no port specified');
  if (proto === '') proto = 'tcp';
  else if (!['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) throw fail(`invalid proto: ${proto}`);
  let start: number;
  let end: number;
  try {
    [start, end] = portRange(port);
  } catch {
    throw new DockerfileError('BAD_PORT', `invalid containerPort: ${port}`);
  }
  if (hostPort !== '') {
    let hostStart: number;
    let hostEnd: number;
    try {
      [hostStart, hostEnd] = portRange(hostPort);
    } catch {
      throw new DockerfileError('BAD_PORT', `invalid hostPort: ${hostPort}`);
    }
    if (end - start !== hostEnd - hostStart && end !== start) {
      throw new DockerfileError('BAD_PORT', `invalid ranges specified for container and host Ports: ${port} and ${hostPort}`);
    }
  }
  const ports: string[] = [];
  for (let p = start; p <= end; p++) ports.push(`${p}/${proto.toLowerCase()}`);
  return { ports, protoNotLowercase: proto !== proto.toLowerCase(), hasHostPart: ip !== '' || hostPort !== '' };
}
