import { assert } from '@rivulet/common';

/**
 * Long-polling fetches park here until one of their partitions has new readable data (its
 * high watermark advanced), the topic goes away, or their wait ends. The number of parked
 * fetches is bounded: past the bound a fetch is answered at once instead of waiting.
 */
export class FetchWaiters {
  private readonly byPartition = new Map<string, Set<() => void>>();
  private parkedCount = 0;

  constructor(private readonly parkedMax: number) {
    assert(parkedMax > 0, 'parkedMax must be positive');
  }

  /**
   * Waits until `wake` is called for one of `keys`, or `timeoutMs` passes, or `signal` aborts.
   * Resolves false without waiting when too many fetches are parked already.
   */
  wait(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.parkedCount >= this.parkedMax || timeoutMs <= 0 || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.parkedCount++;
      let done = false;
      const finish = (woken: boolean): void => {
        if (done) return;
        done = true;
        this.parkedCount--;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        for (const key of keys) {
          const set = this.byPartition.get(key);
          set?.delete(onWake);
          if (set?.size === 0) this.byPartition.delete(key);
        }
        resolve(woken);
      };
      const onWake = (): void => finish(true);
      const onAbort = (): void => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener('abort', onAbort);
      for (const key of keys) {
        let set = this.byPartition.get(key);
        if (!set) this.byPartition.set(key, (set = new Set()));
        set.add(onWake);
      }
    });
  }

  /** Wakes every fetch waiting on `key`. */
  wake(key: string): void {
    const set = this.byPartition.get(key);
    if (!set) return;
    for (const onWake of [...set]) onWake();
  }
}
