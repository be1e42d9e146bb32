// What the progress writer tests feed and read: a stream that collects
// what is written, and a plain vertex with a name.
import type { Vertex } from '../../builder/solver/vertex.js';

export class FakeStream {
  text = '';
  write(chunk: string, cb?: () => void): boolean {
    this.text += chunk;
    cb?.();
    return true;
  }
}

export function vertex(name: string): Vertex<unknown> {
  return { name, inputs: [], describe: () => ({ name }), exec: async () => undefined };
}
