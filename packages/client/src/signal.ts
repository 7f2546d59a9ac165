/**
 * A level-free wake-up: `wait()` resolves at the next `notify()`. Waiters re-check their
 * condition after waking, so spurious or coalesced notifications are harmless.
 */
export class Signal {
  private waiters: (() => void)[] = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Like wait(), but also resolves after `timeoutMs`. */
  waitAtMost(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
