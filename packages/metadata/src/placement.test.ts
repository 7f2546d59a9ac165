import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { placeReplicas } from './placement.js';
import type { PlacementBroker } from './placement.js';

function counts(ids: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

const brokersArb = fc
  .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 4 }), fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 12, maxLength: 12 }))
  .map(([n, racks, ids]): PlacementBroker[] =>
    ids.slice(0, n).map((id, i) => ({ id, rack: racks === 0 ? null : `r${i % racks}` })),
  );

describe('placeReplicas', () => {
  it('gives every partition RF distinct replicas and spreads leaders within one', () => {
    fc.assert(
      fc.property(
        brokersArb,
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 100 }),
        (brokers, partitions, rfWanted, startIndex) => {
          const replicationFactor = Math.min(rfWanted, brokers.length);
          const r = placeReplicas({ brokers, partitions, replicationFactor, startIndex });
          if (!r.ok) throw r.error;
          expect(r.value).toHaveLength(partitions);
          const ids = new Set(brokers.map((b) => b.id));
          for (const replicas of r.value) {
            expect(replicas).toHaveLength(replicationFactor);
            expect(new Set(replicas).size).toBe(replicationFactor);
            for (const id of replicas) expect(ids.has(id)).toBe(true);
          }
          const leaderCounts = counts(r.value.map((rs) => rs[0]!));
          const perBroker = brokers.map((b) => leaderCounts.get(b.id) ?? 0);
          expect(Math.max(...perBroker) - Math.min(...perBroker)).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it('spreads each partition over min(RF, racks) racks', () => {
    fc.assert(
      fc.property(brokersArb, fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 12 }), (brokers, partitions, rfWanted) => {
        const replicationFactor = Math.min(rfWanted, brokers.length);
        const rackOf = new Map(brokers.map((b) => [b.id, b.rack ?? '']));
        const racks = new Set(rackOf.values()).size;
        const r = placeReplicas({ brokers, partitions, replicationFactor });
        if (!r.ok) throw r.error;
        for (const replicas of r.value) {
          expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(Math.min(replicationFactor, racks));
        }
      }),
    );
  });

  it('spreads replicas (not only leaders) evenly on a plain cluster', () => {
    const brokers = [1, 2, 3, 4, 5, 6].map((id) => ({ id }));
    const r = placeReplicas({ brokers, partitions: 60, replicationFactor: 3 });
    if (!r.ok) throw r.error;
    const c = counts(r.value.flat());
    expect([...c.values()].every((n) => n === 30)).toBe(true);
  });

  it('is deterministic', () => {
    const req = { brokers: [3, 1, 2].map((id) => ({ id, rack: id === 1 ? 'a' : 'b' })), partitions: 7, replicationFactor: 2, startIndex: 5 };
    expect(placeReplicas(req)).toEqual(placeReplicas(req));
  });

  it('refuses RF larger than the brokers, RF < 1 and partitions < 1', () => {
    const brokers = [{ id: 1 }, { id: 2 }];
    const codes = [
      placeReplicas({ brokers, partitions: 1, replicationFactor: 3 }),
      placeReplicas({ brokers, partitions: 1, replicationFactor: 0 }),
      placeReplicas({ brokers: [], partitions: 1, replicationFactor: 1 }),
      placeReplicas({ brokers, partitions: 0, replicationFactor: 1 }),
    ].map((r) => (r.ok ? 'ok' : r.error.errorName));
    expect(codes).toEqual(['INVALID_REPLICATION_FACTOR', 'INVALID_REPLICATION_FACTOR', 'INVALID_REPLICATION_FACTOR', 'INVALID_PARTITIONS']);
  });
});
