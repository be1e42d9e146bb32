// Shows a remote build's progress records (rawjson's shape, see
// builder/progress/rawjson.ts) with the local writer the user asked for
// (tty, plain, rawjson, quiet), as if the build ran here.
import type { ProgressWriter } from '../progress/index.js';
import type { RawJsonRecord } from '../progress/rawjson.js';
import type { Vertex } from '../solver/vertex.js';

type Owner = { name: string };

// The writers number steps by their first appearance and key them by an
// owner object; builder tasks' sub-lines ("writing image ... done") have
// no solver event, so they go through the writer's own status method.
interface StepAccess {
  stepFor(owner: object, name: string): unknown;
  status(step: unknown, text: string): void;
}

export class ProgressReplay {
  private readonly owners = new Map<number, Owner>();

  constructor(private readonly writer: ProgressWriter) {}

  private owner(v: { id: number; name: string }): Owner {
    let o = this.owners.get(v.id);
    if (!o) this.owners.set(v.id, (o = { name: v.name }));
    return o;
  }

  apply(r: RawJsonRecord): void {
    if (r.type === 'warning') return this.writer.warn(String(r.message ?? ''));
    if (r.type === 'end' || !r.vertex) return;
    const vertex = this.owner(r.vertex) as unknown as Vertex<unknown>;
    switch (r.type) {
      case 'start':
        return this.writer.onEvent({ type: 'start', vertex, key: '', miss: r.miss });
      case 'log':
        return this.writer.onEvent({ type: 'log', vertex, stream: r.stream ?? 'stdout', data: r.data ?? '' });
      case 'status': {
        const access = this.writer as unknown as StepAccess;
        if (typeof access.stepFor === 'function') access.status(access.stepFor(vertex, r.vertex.name), r.data ?? '');
        return;
      }
      case 'cached':
        return this.writer.onEvent({ type: 'cached', vertex, key: '' });
      case 'done':
        return this.writer.onEvent({ type: 'done', vertex, key: '', ms: r.ms ?? 0 });
      case 'error':
        return this.writer.onEvent({ type: 'error', vertex, key: '', error: new Error(r.error ?? 'failed') });
      case 'canceled':
        return this.writer.onEvent({ type: 'canceled', vertex, key: '' });
    }
  }
}
