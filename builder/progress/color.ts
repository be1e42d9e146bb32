// How many colours the tty view may use. chalk's own detection looks at
// process.stdout/stderr and ignores NO_COLOR, so the decision is made here
// for the stream we actually write to.
import type { ProgressStream } from './types.js';

export type ColorLevel = 0 | 1 | 2 | 3;

export function colorLevel(out: ProgressStream, env: NodeJS.ProcessEnv, explicit?: boolean): ColorLevel {
  if (explicit === false) return 0;
  const forced = forcedLevel(env.FORCE_COLOR);
  // FORCE_COLOR wins over NO_COLOR and over a non-terminal stream, as in Node itself.
  if (forced !== undefined) return explicit && forced === 0 ? 1 : forced;
  if (explicit === true) return Math.max(1, depthLevel(out, env)) as ColorLevel;
  // https://no-color.org: present and not empty disables colour.
  if (env.NO_COLOR) return 0;
  if (!out.isTTY || env.TERM === 'dumb') return 0;
  return depthLevel(out, env);
}

function forcedLevel(value: string | undefined): ColorLevel | undefined {
  if (value === undefined) return undefined;
  if (value === '' || value === 'true') return 1;
  if (value === 'false') return 0;
  const n = Number.parseInt(value, 10);
  if (Number.isNaN(n)) return 1;
  return Math.max(0, Math.min(3, n)) as ColorLevel;
}

function depthLevel(out: ProgressStream, env: NodeJS.ProcessEnv): ColorLevel {
  // getColorDepth: 1, 4, 8 or 24 bits; a fake or piped stream has none.
  const depth = out.getColorDepth?.(env) ?? 4;
  if (depth >= 24) return 3;
  if (depth >= 8) return 2;
  if (depth >= 4) return 1;
  return 0;
}
