export type Truthy<T> = Exclude<T, false | 0 | "" | null | undefined>;

/** Wait for a condition by polling it, with a deadline (never a bare sleep); returns its value. */
export async function eventually<T>(check: () => T | Promise<T>, what: string,
                                    timeoutMs = 15_000, everyMs = 20): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as Truthy<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A unique queue name per test. */
let n = 0;
export function queueName(prefix = "q"): string {
  n += 1;
  return `${prefix}-${process.pid}-${n}`;
}

