// Turns a stream of output chunks into whole lines. Chunks may end in the
// middle of a line or even in the middle of a UTF-8 character, so both the
// undecoded bytes and the unfinished line are carried over to the next chunk.
import { StringDecoder } from 'node:string_decoder';

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  // Returns the lines completed by this chunk, without their line endings.
  push(data: Buffer | string): string[] {
    const text = this.partial + (typeof data === 'string' ? data : this.decoder.write(data));
    const parts = text.split('\n');
    this.partial = parts.pop()!;
    return parts.map(stripCarriageReturn);
  }

  // The unfinished line (and any dangling bytes), if there is one; called when the step ends.
  flush(): string | undefined {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    return rest === '' ? undefined : stripCarriageReturn(rest);
  }

  get hasPartial(): boolean {
    return this.partial !== '';
  }
}

// CRLF output (Windows-style tools, some test runners) would otherwise leave a
// stray \r that moves the cursor to column 0 and garbles the prefix.
function stripCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
