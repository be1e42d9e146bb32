// Text pieces shared by the writers, so plain, tty and quiet agree on how a
// duration, an error or a failing step's output looks.
import type { OutputLine, Step } from './step.js';

// `1.2s`: BuildKit shows step durations with one decimal.
export function formatDuration(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

// `0.123`: output-line timestamps, seconds since the step started.
export function formatOffset(ms: number): string {
  return (ms / 1000).toFixed(3);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}

// The block docker prints after a failed build, so the reason is the last
// thing on screen even when the output scrolled by long ago:
//   ------
//    > [build 2/4] RUN make:
//   0.123 make: *** No rule to make target 'all'.
//   ------
export function errorBox(step: Step, lines: readonly OutputLine[], omitted: number): string {
  const body = lines.map((l) => `${formatOffset(l.offsetMs)} ${l.text}\n`).join('');
  const note = omitted > 0 ? `[${omitted} earlier line${omitted === 1 ? '' : 's'} not shown]\n` : '';
  return `------\n > ${step.name}:\n${note}${body}------\n`;
}

// `2 warnings found:` then ` - message` per warning, as `docker buildx build` lists lint results.
export function warningSummary(warnings: readonly string[]): string {
  if (warnings.length === 0) return '';
  const head = `${warnings.length} warning${warnings.length === 1 ? '' : 's'} found:\n`;
  return head + warnings.map((w) => ` - ${w}\n`).join('');
}

// A step's whole block in the plain format, for writers that print a step
// only once it has failed (quiet):
//   #5 [build 2/4] RUN make
//   #5 0.123 output line
//   #5 ERROR: exit code 2
export function plainStepBlock(step: Step): string {
  const n = `#${step.index}`;
  let text = `${n} ${step.name}\n`;
  for (const s of step.statuses) text += `${n} ${s}\n`;
  if (step.keptDropped > 0) text += `${n} [${step.keptDropped} earlier lines not shown]\n`;
  for (const l of step.kept) text += `${n} ${formatOffset(l.offsetMs)} ${l.text}\n`;
  return text + plainEndLine(step);
}

// The line that closes a step's block: `#5 DONE 1.2s`, `#5 CACHED`, `#5 ERROR: ...`, `#5 CANCELED`.
export function plainEndLine(step: Step, number = step.index): string {
  const n = `#${number}`;
  switch (step.state) {
    case 'cached':
      return `${n} CACHED\n`;
    case 'error':
      return `${n} ERROR: ${step.error ?? 'failed'}\n`;
    case 'canceled':
      return `${n} CANCELED\n`;
    case 'done':
      return `${n} DONE ${formatDuration(step.elapsedMs(step.endedAt ?? step.startedAt))}\n`;
    case 'running':
      return '';
  }
}
