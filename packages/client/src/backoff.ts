/**
 * Exponential backoff with jitter, as Kafka's `retry.backoff.ms` / `retry.backoff.max.ms`:
 * the n-th retry waits `initialMs * 2^(n-1)`, capped at `maxMs`, scaled by a random factor in
 * [0.8, 1.2] so that many clients retrying after the same failure do not move in lockstep.
 */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

export function backoffDelayMs(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempt - 1);
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(exponent, 30));
  const jitter = 0.8 + 0.4 * random();
  return Math.max(0, Math.round(Math.min(policy.maxMs, base * jitter)));
}

/** Resolves after `ms`, or at once when `signal` aborts; the timer does not keep the process alive on its own. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
