/**
 * One CSV record split into fields, with the strictness of Go's encoding/csv
 * (which BuildKit uses for `--mount` values): a field that starts with `"` is
 * quoted, `""` inside it is a literal quote, and a stray quote is an error.
 */

export class CsvError extends Error {}

export function splitCsvRecord(line: string): string[] {
  const fields: string[] = [];
  let pos = 0;
  for (;;) {
    if (line[pos] === '"') {
      let field = '';
      pos++;
      for (;;) {
        const close = line.indexOf('"', pos);
        if (close < 0) throw new CsvError(`extraneous or missing " in quoted-field: ${line}`);
        field += line.slice(pos, close);
        pos = close + 1;
        if (line[pos] === '"') {
          field += '"';
          pos++;
          continue;
        }
        if (pos === line.length || line[pos] === ',') break;
        throw new CsvError(`extraneous or missing " in quoted-field: ${line}`);
      }
      fields.push(field);
    } else {
      const comma = line.indexOf(',', pos);
      const end = comma < 0 ? line.length : comma;
      const field = line.slice(pos, end);
      if (field.includes('"')) throw new CsvError(`bare " in non-quoted-field: ${line}`);
      fields.push(field);
      pos = end;
    }
    if (pos >= line.length) return fields;
    pos++; // the comma
  }
}
