/**
 * Many single calls into few batch RPCs, each caller getting its own result.
 *
 * Batching adapts to load, like Nagle's algorithm without its delay: when no batch RPC is in
 * flight for a key, what is waiting goes out at once (after the current burst of synchronous
 * calls, i.e. on the next turn of the event loop); while one is in flight, items gather and go
 * out when a call returns, when `maxItems` or `maxBytes` are reached, or after `lingerMs` at
 * the latest. A lone caller never waits for company; many callers share calls. At most
 * `maxInFlight` calls per key are outstanding.
 */

export interface BatchLimits {
  /** Most items in one RPC. */
  maxItems: number;
  /** Most bytes (as counted by the caller's size function) in one RPC. */
  maxBytes: number;
  /** Longest an item waits for company while an RPC is in flight. */
  lingerMs: number;
  /** Most RPCs in flight per key. */
  maxInFlight: number;
}

/** Sends one batch; returns one result per item, in order: a value, or an Error for that item. */
export type SendBatch<K, T, R> = (key: K, items: T[]) => Promise<Array<R | Error>>;

interface Waiting<T, R> {
  item: T;
  size: number;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

interface KeyState<T, R> {
  pending: Waiting<T, R>[];
  bytes: number;
  inFlight: number;
  timer?: NodeJS.Timeout;
  immediate?: NodeJS.Immediate;
}

export class Batcher<K, T, R> {
  private readonly keys = new Map<K, KeyState<T, R>>();
  private readonly running = new Set<Promise<void>>();
  /** Batch RPCs sent and items they carried, since the start. */
  readonly counts = { batches: 0, items: 0 };

  constructor(private readonly send: SendBatch<K, T, R>, private readonly limits: BatchLimits) {
    if (!(limits.maxItems >= 1)) throw new RangeError("maxItems must be at least 1");
    if (!(limits.maxBytes >= 1)) throw new RangeError("maxBytes must be at least 1");
    if (!(limits.maxInFlight >= 1)) throw new RangeError("maxInFlight must be at least 1");
  }

  submit(key: K, item: T, size = 0): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let st = this.keys.get(key);
      if (!st) {
        st = { pending: [], bytes: 0, inFlight: 0 };
        this.keys.set(key, st);
      }
      if (st.pending.length && st.bytes + size > this.limits.maxBytes) this.flush(key);
      st.pending.push({ item, size, resolve, reject });
      st.bytes += size;
      if (st.pending.length >= this.limits.maxItems || st.bytes >= this.limits.maxBytes) {
        this.flush(key);
      } else if (st.pending.length === 1 && !st.timer && !st.immediate) {
        if (st.inFlight === 0) st.immediate = setImmediate(() => this.flush(key));
        else st.timer = setTimeout(() => this.flush(key), this.limits.lingerMs);
      }
    });
  }

  /** Items waiting (not yet sent) over all keys. */
  get pending(): number {
    let n = 0;
    for (const st of this.keys.values()) n += st.pending.length;
    return n;
  }

  private flush(key: K): void {
    const st = this.keys.get(key);
    if (!st) return;
    this.clearTimers(st);
    while (st.pending.length && st.inFlight < this.limits.maxInFlight) {
      let n = 0;
      let bytes = 0;
      while (n < st.pending.length && n < this.limits.maxItems &&
             (n === 0 || bytes + st.pending[n]!.size <= this.limits.maxBytes)) {
        bytes += st.pending[n]!.size;
        n++;
      }
      const batch = st.pending.splice(0, n);
      st.bytes -= bytes;
      st.inFlight++;
      const run = this.run(key, st, batch);
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }
    if (!st.pending.length && !st.inFlight) this.keys.delete(key);
  }

  private clearTimers(st: KeyState<T, R>): void {
    if (st.timer) clearTimeout(st.timer);
    if (st.immediate) clearImmediate(st.immediate);
    st.timer = st.immediate = undefined;
  }

  private async run(key: K, st: KeyState<T, R>, batch: Waiting<T, R>[]): Promise<void> {
    this.counts.batches++;
    this.counts.items += batch.length;
    try {
      const results = await this.send(key, batch.map((w) => w.item));
      batch.forEach((w, i) => {
        const r = results[i];
        if (i >= results.length) {
          w.reject(new Error(`the broker answered ${results.length} results for ${batch.length} items`));
        } else if (r instanceof Error) {
          w.reject(r);
        } else {
          w.resolve(r as R);
        }
      });
    } catch (err) {
      for (const w of batch) w.reject(err); // the whole call failed: every caller hears it
    } finally {
      st.inFlight--;
      if (st.pending.length) this.flush(key); // what gathered meanwhile goes now
      else if (!st.inFlight) this.keys.delete(key);
    }
  }

  /** Send everything waiting now and resolve once every RPC has returned. */
  async flushAll(): Promise<void> {
    while (this.keys.size || this.running.size) {
      for (const key of [...this.keys.keys()]) this.flush(key);
      if (this.running.size) await Promise.allSettled([...this.running]);
      else if (this.keys.size) await new Promise((r) => setImmediate(r));
    }
  }
}
