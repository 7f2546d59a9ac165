/**
 * Broker leases, as KRaft's BrokerHeartbeatManager: a broker holds a lease while it heartbeats
 * within the session timeout; when the lease expires the controller fences it. Lease state is
 * soft state of the active controller (not in the metadata log), kept as an immutable map of
 * the last heartbeat time per broker. Time is passed in (`nowMs`), never read.
 */
import type { MetadataImage } from './image.js';

export type LeaseTable = ReadonlyMap<number, number>;

/** Records a heartbeat (or a registration) from `brokerId` at `nowMs`. */
export function recordHeartbeat(leases: LeaseTable, brokerId: number, nowMs: number): LeaseTable {
  const next = new Map(leases);
  next.set(brokerId, Math.max(nowMs, leases.get(brokerId) ?? Number.NEGATIVE_INFINITY));
  return next;
}

/** Forgets a broker's lease, e.g. once it is unregistered. */
export function dropLease(leases: LeaseTable, brokerId: number): LeaseTable {
  const next = new Map(leases);
  next.delete(brokerId);
  return next;
}

/**
 * The registered, not yet fenced brokers whose lease expired at `nowMs`: the last heartbeat
 * is `sessionTimeoutMs` or more ago, or none was seen since this controller became active
 * and `sinceMs` (when it became active) is that long ago. Sorted by id.
 */
export function expiredLeases(args: {
  readonly image: MetadataImage;
  readonly leases: LeaseTable;
  readonly nowMs: number;
  readonly sessionTimeoutMs: number;
  /** When tracking started (controller failover); brokers never heard from count from here. */
  readonly sinceMs?: number;
}): number[] {
  const { image, leases, nowMs, sessionTimeoutMs } = args;
  const out: number[] = [];
  for (const broker of image.brokers.values()) {
    if (broker.state === 'fenced') continue;
    const last = leases.get(broker.brokerId) ?? args.sinceMs ?? Number.NEGATIVE_INFINITY;
    if (nowMs - last >= sessionTimeoutMs) out.push(broker.brokerId);
  }
  return out.sort((a, b) => a - b);
}
