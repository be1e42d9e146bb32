// A Map bounded to `max` entries that forgets the least recently used one
// first (a Map iterates in insertion order: a use moves the key to the
// end). What the build's in-process memos need of an LRU, without the
// lru-cache package, whose module reads the `performance` global when it
// loads, and so loads Node's perf_hooks modules, in every build.
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): this {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
    return this;
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }
}
