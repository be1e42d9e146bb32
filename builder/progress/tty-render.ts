// Draws one frame of the live terminal view as a list of screen lines; no
// I/O and no clock of its own, so a frame is a pure function of the steps.
//
//   [+] Building 3.2s (5/8)
//    => [internal] load build definition from Dockerfile            0.0s
//    => CACHED [build 1/4] FROM docker.io/library/alpine:3.20        0.0s
//    => [build 2/4] RUN make                                          1.2s
//    => => # cc -o app main.c
import { stripVTControlCharacters } from 'node:util';
import type { ChalkInstance } from 'chalk';
import { formatDuration } from './format.js';
import type { Step } from './step.js';

export interface FrameInput {
  steps: readonly Step[];
  now: number;
  // When the build started, for the header's timer.
  startedAt: number;
  width: number;
  // Screen height; a live frame taller than the screen could not be redrawn
  // in place (the cursor cannot move above the screen's top line).
  height: number;
  // The last frame: full length, no output tails of running steps.
  final: boolean;
  ok: boolean;
  // How many output lines of a running step to show under it.
  tailLines: number;
  chalk: ChalkInstance;
}

interface ScreenLine {
  text: string;
  // Lines of finished steps go first when the screen is too small.
  droppable: boolean;
  style: (s: string) => string;
}

export function renderFrame(input: FrameInput): string[] {
  const { steps, now, chalk } = input;
  const finished = steps.filter((s) => s.ended).length;
  let header = `[+] Building ${formatDuration(Math.max(0, now - input.startedAt))} (${finished}/${steps.length})`;
  if (input.final && input.ok) header += ' FINISHED';
  const lines: ScreenLine[] = [];
  for (const step of steps) {
    const style = stepStyle(step, chalk);
    lines.push({ text: stepLine(step, now, input.width), droppable: step.ended, style });
    if (step.miss !== undefined) lines.push({ text: ` => => cache miss: ${sanitize(step.miss)}`, droppable: step.ended, style: chalk.dim });
    for (const status of step.statuses) {
      lines.push({ text: ` => => ${sanitize(status)}`, droppable: step.ended, style });
    }
    if (!step.ended && !input.final) {
      for (const out of step.kept.slice(-input.tailLines)) {
        lines.push({ text: ` => => # ${sanitize(out.text)}`, droppable: false, style: chalk.dim });
      }
    }
  }
  const visible = input.final ? lines : fitHeight(lines, Math.max(1, input.height - 2));
  const headerStyle = input.final && !input.ok ? chalk.red : (s: string) => s;
  return [headerStyle(clip(header, input.width)), ...visible.map((l) => l.style(clip(l.text, input.width)))];
}

// ` => CACHED [build 1/4] FROM alpine            0.0s`, the time right-aligned.
function stepLine(step: Step, now: number, width: number): string {
  const prefix = step.state === 'cached' ? 'CACHED ' : step.state === 'error' ? 'ERROR ' : step.state === 'canceled' ? 'CANCELED ' : '';
  const time = step.state === 'cached' ? '0.0s' : formatDuration(step.elapsedMs(now));
  const left = ` => ${prefix}${sanitize(step.name)}`;
  // One column stays free: writing the last column makes some terminals wrap.
  const room = width - 1 - time.length - 1;
  const name = displayWidth(left) > room ? clip(left, Math.max(4, room - 2)) + '...' : left;
  return name + ' '.repeat(Math.max(1, room - displayWidth(name) + 1)) + time;
}

function stepStyle(step: Step, chalk: ChalkInstance): (s: string) => string {
  switch (step.state) {
    case 'error':
      return chalk.red;
    case 'canceled':
      return chalk.yellow;
    case 'running':
      return (s) => s;
    default:
      return chalk.blue;
  }
}

// Keeps the newest lines of running steps in view: finished steps' lines are
// dropped from the top first, then the oldest of the rest.
function fitHeight(lines: ScreenLine[], max: number): ScreenLine[] {
  let excess = lines.length - max;
  if (excess <= 0) return lines;
  const kept = lines.filter((l) => {
    if (excess > 0 && l.droppable) {
      excess--;
      return false;
    }
    return true;
  });
  return kept.slice(Math.max(0, kept.length - max));
}

// Command output may carry colours, cursor movement, \r progress bars and
// tabs; any of them would break the line counting that redraws rely on.
export function sanitize(text: string): string {
  const plain = stripVTControlCharacters(text);
  const afterReturn = plain.slice(plain.lastIndexOf('\r') + 1);
  // eslint-disable-next-line no-control-regex
  return afterReturn.replace(/\t/g, '    ').replace(/[\x00-\x1f\x7f]/g, ' ');
}

// Cuts a line to the screen width, so that it never wraps (a wrapped line
// would make the next redraw move the cursor up too little).
export function clip(text: string, width: number): string {
  const max = Math.max(1, width - 1);
  let used = 0;
  let out = '';
  for (const ch of text) {
    const w = charWidth(ch.codePointAt(0)!);
    if (used + w > max) break;
    used += w;
    out += ch;
  }
  return out;
}

export function displayWidth(text: string): number {
  let used = 0;
  for (const ch of text) used += charWidth(ch.codePointAt(0)!);
  return used;
}

// East Asian wide characters and emoji take two columns. A coarse table is
// enough here: an error only shortens a line, it never breaks the redraw.
function charWidth(cp: number): number {
  if (cp >= 0x300 && cp <= 0x36f) return 0;
  const wide =
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd);
  return wide ? 2 : 1;
}
