export interface Entry<V> {
  value: V;
  expires: number;
}

type Clock = () => number;

export class TtlCache<K, V> {
  private readonly items = new Map<K, Entry<V>>();

  constructor(private readonly ttlMs: number, private readonly clock: Clock = Date.now) {}

  set(key: K, value: V): void {
    this.items.set(key, { value, expires: this.clock() + this.ttlMs });
  }

  get(key: K): V | undefined {
    const entry = this.items.get(key);
    if (!entry) {
      return undefined;
    }
    if (entry.expires < this.clock()) {
      this.items.delete(key);
      return undefined;
    }
    return entry.value;
  }
}
