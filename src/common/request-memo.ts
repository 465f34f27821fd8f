const memos = new WeakMap<object, Map<string, Promise<unknown>>>();

/**
 * Computes `compute()` once per request and key. The rate limiter identifies a caller before the route runs, and
 * the route authenticates the same caller again: both share one lookup (and one failure) through this.
 */
export function memoForRequest<T>(req: object, key: string, compute: () => Promise<T>): Promise<T> {
  let memo = memos.get(req);
  if (!memo) {
    memo = new Map();
    memos.set(req, memo);
  }
  const known = memo.get(key) as Promise<T> | undefined;
  if (known) return known;
  const value = compute();
  memo.set(key, value);
  return value;
}
