// Go's text/tabwriter as BuildKit's subrequest printers use it
// (minwidth 0, tabwidth 0, padchar ' ', no flags): every cell but the last
// of a line is padded to its column's width plus `padding`.

export function tabulate(rows: readonly (readonly string[])[], padding: number): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.slice(0, -1).forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, [...cell].length);
    });
  }
  return rows
    .map((row) => row.map((cell, i) => (i < row.length - 1 ? cell + ' '.repeat(widths[i]! + padding - [...cell].length) : cell)).join(''))
    .map((line) => `${line}\n`)
    .join('');
}
