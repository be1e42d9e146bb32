// Docker-style column output: left-aligned columns separated by 3 spaces.
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] + 3))).join('').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

// `2 hours ago`, as docker prints CREATED columns.
export function timeAgo(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'N/A';
  const s = Math.max(0, Math.round((now - t) / 1000));
  const units: [number, string][] = [[365 * 86400, 'year'], [30 * 86400, 'month'], [7 * 86400, 'week'], [86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']];
  if (s < 1) return 'Less than a second ago';
  for (const [size, name] of units) {
    const n = Math.floor(s / size);
    if (n >= 1) return n === 1 ? `${name === 'hour' ? 'An' : name === 'minute' ? 'About a' : '1'} ${name} ago` : `${n} ${name}s ago`;
  }
  return 'Less than a second ago';
}

export function shortId(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
