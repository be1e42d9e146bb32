// The four colours of the tty view, written as chalk 5 writes them (the
// same escape codes, nesting and line breaks; test/progress-ansi-style
// compares the two). chalk itself was imported by the tty writer, and so
// initialised by every build, whatever its --progress: its set-up (every
// style of its palette, its colour detection, which loads node:tty) cost
// a build ~0.5-1 ms before its first step, for four styles only a
// terminal's view uses.
import type { ColorLevel } from './color.js';

export type Style = (text: string) => string;

export interface ViewStyles {
  red: Style;
  yellow: Style;
  blue: Style;
  dim: Style;
}

export function viewStyles(level: ColorLevel): ViewStyles {
  return {
    red: style(level, 31, 39),
    yellow: style(level, 33, 39),
    blue: style(level, 34, 39),
    dim: style(level, 2, 22),
  };
}

function style(level: ColorLevel, open: number, close: number): Style {
  if (level <= 0) return (text) => text;
  const openCode = `\x1b[${open}m`;
  const closeCode = `\x1b[${close}m`;
  return (text) => {
    if (!text) return text;
    // A closing code inside re-opens the colour: the rest stays coloured.
    let s = text.includes('\x1b') ? text.split(closeCode).join(closeCode + openCode) : text;
    // Closed before each line break and opened after it (a terminal must not carry it over).
    if (s.includes('\n')) s = s.replace(/\r?\n/g, (lf) => closeCode + lf + openCode);
    return openCode + s + closeCode;
  };
}
