import { RivuletError } from '@rivulet/common';

interface Waiter {
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

/**
 * The producer's `bufferMemoryBytes`: a byte budget shared by every record waiting to be
 * sent or acknowledged. `acquire` succeeds at once while there is room, otherwise waits in
 * FIFO order (so a large record is not starved by small ones) until `maxWaitMs` passes.
 */
export class MemoryPool {
  private availableBytes: number;
  private readonly waiters: Waiter[] = [];

  constructor(readonly totalBytes: number) {
    this.availableBytes = totalBytes;
  }

  get usedBytes(): number {
    return this.totalBytes - this.availableBytes;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** True when a caller would not have to wait for `bytes`. */
  canAcquire(bytes: number): boolean {
    return this.waiters.length === 0 && bytes <= this.availableBytes;
  }

  /** Takes `bytes` now and returns true, or returns false without taking anything. */
  tryAcquire(bytes: number): boolean {
    if (!this.canAcquire(bytes)) return false;
    this.availableBytes -= bytes;
    return true;
  }

  acquire(bytes: number, maxWaitMs: number): Promise<void> {
    if (bytes > this.totalBytes) {
      return Promise.reject(new RivuletError('RECORD_LIST_TOO_LARGE', `record of ${bytes} bytes is larger than bufferMemoryBytes (${this.totalBytes})`));
    }
    if (this.tryAcquire(bytes)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { bytes, resolve, reject };
      waiter.timer = setTimeout(() => this.expire(waiter, maxWaitMs), maxWaitMs);
      this.waiters.push(waiter);
    });
  }

  release(bytes: number): void {
    this.availableBytes = Math.min(this.totalBytes, this.availableBytes + bytes);
    this.wakeWaiters();
  }

  /** Fails every waiter, e.g. when the producer closes. */
  rejectAll(err: Error): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
  }

  private wakeWaiters(): void {
    while (this.waiters.length > 0 && this.waiters[0]!.bytes <= this.availableBytes) {
      const waiter = this.waiters.shift()!;
      clearTimeout(waiter.timer);
      this.availableBytes -= waiter.bytes;
      waiter.resolve();
    }
  }

  private expire(waiter: Waiter, maxWaitMs: number): void {
    const index = this.waiters.indexOf(waiter);
    if (index < 0) return;
    this.waiters.splice(index, 1);
    waiter.reject(new RivuletError('REQUEST_TIMED_OUT', `buffer memory stayed full for ${maxWaitMs} ms (bufferMemoryBytes ${this.totalBytes})`));
    // The waiter that left may have been blocking smaller ones behind it.
    this.wakeWaiters();
  }
}
