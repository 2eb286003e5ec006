/**
 * One concurrency limiter for the whole code base: at most `max` of the functions passed to the
 * returned `limit` run at once; the others wait their turn, first come first served.
 */
export function limitConcurrency(max: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
