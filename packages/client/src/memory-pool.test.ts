import { RivuletError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from './backoff.js';
import { MemoryPool } from './memory-pool.js';

describe('MemoryPool', () => {
  it('grants at once while there is room and makes later callers wait in FIFO order', async () => {
    const pool = new MemoryPool(100);
    await pool.acquire(60, 1000);
    const order: string[] = [];
    const big = pool.acquire(80, 1000).then(() => order.push('big'));
    // Small would fit, but waiting behind the big request keeps large records from starving.
    expect(pool.canAcquire(10)).toBe(false);
    const small = pool.acquire(10, 1000).then(() => order.push('small'));
    pool.release(60);
    await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
    expect(pool.usedBytes).toBe(90);
  });

  it('fails a wait that outlasts maxWaitMs with REQUEST_TIMED_OUT', async () => {
    const pool = new MemoryPool(10);
    await pool.acquire(10, 1000);
    await expect(pool.acquire(5, 10)).rejects.toMatchObject({ errorName: 'REQUEST_TIMED_OUT' });
    expect(pool.waiting).toBe(0);
  });

  it('refuses a record larger than the whole pool', async () => {
    const pool = new MemoryPool(10);
    await expect(pool.acquire(11, 1000)).rejects.toBeInstanceOf(RivuletError);
  });
});

describe('backoffDelayMs', () => {
  it('doubles per attempt from the initial backoff up to the cap, with ±20% jitter', () => {
    const policy = { initialMs: 100, maxMs: 1000 };
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelayMs(policy, a, mid))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelayMs(policy, 1, () => 0)).toBe(80);
    expect(backoffDelayMs(policy, 1, () => 0.999)).toBe(120);
    expect(backoffDelayMs(policy, 10, () => 0.999)).toBe(1000);
  });
});
