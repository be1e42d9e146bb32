// `--format` for list commands, as docker's CLI formatter does it: a Go
// template per row; `table TEMPLATE` adds a header row (each field's
// column name) and aligns the columns like Go's tabwriter (min width 10,
// padding 3); `json` prints each row as one JSON line. `\t` and `\n` typed
// literally in the flag mean tab and newline.
import { compileTemplate } from './go-template.js';

export function unescapeFormat(format: string): string {
  return format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/** Go's tabwriter with docker's settings: cells ended by a tab are padded to their column's width. */
export function tabwrite(text: string): string {
  const lines = text.split('\n');
  const cells = lines.map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const row of cells) row.slice(0, -1).forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length + 3, 10); });
  return cells.map((row) => row.map((c, i) => (i < row.length - 1 ? c.padEnd(widths[i]!) : c)).join('')).join('\n');
}

/**
 * Renders rows with a --format value; `headers` names each field for
 * `table` (docker's column titles). Returns the whole output.
 */
export function formatRows(format: string, rows: object[], headers: Record<string, string>): string {
  if (format === 'json') return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
  const isTable = format.startsWith('table');
  const body = unescapeFormat(isTable ? format.slice('table'.length).trim() : format);
  const template = compileTemplate(body);
  const lines = rows.map((r) => template.execute(r));
  if (!isTable) return lines.map((l) => `${l}\n`).join('');
  const header = template.execute(headers);
  return `${tabwrite([header, ...lines].join('\n'))}\n`;
}

/** One object per line (inspect): `{{json .}}`, `{{.State.Status}}`, ... */
export function formatEach(format: string, values: unknown[]): string {
  const template = compileTemplate(unescapeFormat(format));
  return values.map((v) => `${template.execute(v)}\n`).join('');
}
