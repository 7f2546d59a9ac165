import { describe, expect, it } from 'vitest';
import { fenceBroker } from './decisions.js';
import { dropLease, expiredLeases, recordHeartbeat } from './leases.js';
import type { LeaseTable } from './leases.js';
import { apply, clusterImage } from './test-helpers.js';

describe('broker leases', () => {
  it('reports unfenced brokers whose heartbeat is older than the session timeout', () => {
    const image = clusterImage(3);
    let leases: LeaseTable = new Map();
    leases = recordHeartbeat(leases, 1, 1000);
    leases = recordHeartbeat(leases, 2, 1500);
    leases = recordHeartbeat(leases, 3, 1900);
    expect(expiredLeases({ image, leases, nowMs: 2000, sessionTimeoutMs: 600 })).toEqual([1]);
    expect(expiredLeases({ image, leases, nowMs: 2100, sessionTimeoutMs: 600 })).toEqual([1, 2]);
    leases = recordHeartbeat(leases, 1, 2050);
    expect(expiredLeases({ image, leases, nowMs: 2100, sessionTimeoutMs: 600 })).toEqual([2]);
  });

  it('ignores fenced brokers and counts unknown ones from sinceMs', () => {
    let image = clusterImage(2);
    const fenced = fenceBroker(image, 2);
    if (!fenced.ok) throw fenced.error;
    image = apply(image, fenced.value);
    const leases = dropLease(recordHeartbeat(new Map(), 2, 0), 2);
    expect(expiredLeases({ image, leases, nowMs: 500, sessionTimeoutMs: 600, sinceMs: 0 })).toEqual([]);
    expect(expiredLeases({ image, leases, nowMs: 600, sessionTimeoutMs: 600, sinceMs: 0 })).toEqual([1]);
  });

  it('never moves a heartbeat back in time', () => {
    const leases = recordHeartbeat(recordHeartbeat(new Map(), 1, 500), 1, 100);
    expect(leases.get(1)).toBe(500);
  });
});
