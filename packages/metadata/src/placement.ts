/**
 * Replica placement, after Kafka's rack-aware assignment: brokers are ordered so that racks
 * alternate, partition p's leader is the broker at (startIndex + p) mod n (so leader counts
 * differ by at most one), and followers are taken going round that list from a shift that
 * varies with p, preferring racks the partition does not use yet.
 */
import { RivuletError } from '@rivulet/common';

export interface PlacementBroker {
  readonly id: number;
  readonly rack?: string | null;
}

export interface PlacementRequest {
  /** The eligible (unfenced) brokers. */
  readonly brokers: readonly PlacementBroker[];
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Where leadership starts in the broker order; vary it per topic to spread leaders. */
  readonly startIndex?: number;
}

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: RivuletError };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(error: RivuletError): Result<T> => ({ ok: false, error });

/** Brokers sorted by id, interleaved by rack (rack order by name) when racks are set. */
function rackAlternatedOrder(brokers: readonly PlacementBroker[]): PlacementBroker[] {
  const sorted = [...brokers].sort((a, b) => a.id - b.id);
  if (!sorted.some((b) => b.rack != null)) return sorted;
  const byRack = new Map<string, PlacementBroker[]>();
  for (const b of sorted) {
    const rack = b.rack ?? '';
    const list = byRack.get(rack) ?? [];
    list.push(b);
    byRack.set(rack, list);
  }
  const racks = [...byRack.keys()].sort();
  const out: PlacementBroker[] = [];
  for (let i = 0; out.length < sorted.length; i++) {
    for (const rack of racks) {
      const b = byRack.get(rack)![i];
      if (b !== undefined) out.push(b);
    }
  }
  return out;
}

/** Returns one replica list per partition (replicas[0] is the preferred leader). */
export function placeReplicas(req: PlacementRequest): Result<number[][]> {
  const { brokers, partitions, replicationFactor } = req;
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    return fail(new RivuletError('INVALID_PARTITIONS', `Number of partitions must be at least 1, got ${partitions}`));
  }
  if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1) {
    return fail(new RivuletError('INVALID_REPLICATION_FACTOR', `Replication factor must be at least 1, got ${replicationFactor}`));
  }
  if (new Set(brokers.map((b) => b.id)).size !== brokers.length) {
    return fail(new RivuletError('INVALID_REQUEST', 'Duplicate broker ids in placement request'));
  }
  if (replicationFactor > brokers.length) {
    return fail(
      new RivuletError('INVALID_REPLICATION_FACTOR', `Replication factor ${replicationFactor} is larger than the ${brokers.length} available brokers`),
    );
  }
  const order = rackAlternatedOrder(brokers);
  const n = order.length;
  const rackCount = new Set(order.map((b) => b.rack ?? '')).size;
  const start = Math.abs(Math.trunc(req.startIndex ?? 0));
  const result: number[][] = [];
  for (let p = 0; p < partitions; p++) {
    const leaderIdx = (start + p) % n;
    const shift = n > 1 ? Math.floor((start + p) / n) % (n - 1) : 0;
    const chosen: PlacementBroker[] = [order[leaderIdx]!];
    const usedRacks = new Set([order[leaderIdx]!.rack ?? '']);
    while (chosen.length < replicationFactor) {
      let pick: PlacementBroker | undefined;
      let fallback: PlacementBroker | undefined;
      for (let k = 0; k < n - 1; k++) {
        const cand = order[(leaderIdx + 1 + ((shift + k) % (n - 1))) % n]!;
        if (chosen.includes(cand)) continue;
        fallback ??= cand;
        if (usedRacks.size >= rackCount || !usedRacks.has(cand.rack ?? '')) {
          pick = cand;
          break;
        }
      }
      pick ??= fallback;
      if (pick === undefined) break; // unreachable: replicationFactor <= n
      chosen.push(pick);
      usedRacks.add(pick.rack ?? '');
    }
    result.push(chosen.map((b) => b.id));
  }
  return ok(result);
}
