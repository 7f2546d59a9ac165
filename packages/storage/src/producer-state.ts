import { RivuletError, assert, type ErrorContext } from '@rivulet/common';

/*
 * Idempotent-producer state of one partition (Kafka's KIP-98 ProducerStateManager, without
 * transactions). Pure: no I/O, no clock; times come in as arguments. PartitionLog owns one
 * table per replica, checks leader appends against it, feeds it every appended batch (leader
 * and follower alike, so any replica can take over), rolls it back on truncation and persists
 * each changed entry with the write batch that changed it.
 */

/** RecordBatch producerId of a batch from a producer without idempotence. */
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
/** Batches remembered per producer for duplicate detection (Kafka's NUM_BATCHES_TO_RETAIN; a producer keeps at most 5 in flight). */
export const PRODUCER_BATCHES_CACHED_MAX = 5;
const SEQUENCE_MAX = 0x7fffffff;
const PRODUCER_EPOCH_MAX = 0x7fff;

/** One remembered batch of a producer, as appended: sequences and the offsets it received. */
export interface ProducerBatch {
  readonly producerEpoch: number;
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** The broker's wall-clock time of the append; expiration counts idle time from it. */
  readonly appendTimeMs: number;
}

/**
 * What a partition knows of one producer. `batches` are its last appended batches, oldest
 * first, all in `producerEpoch`; they may be empty after a truncation removed every
 * remembered batch (then `lastSequence` alone says where the sequence stands).
 */
export interface ProducerEntry {
  readonly producerId: number;
  readonly producerEpoch: number;
  /** Sequence of the last record appended in `producerEpoch`, or NO_SEQUENCE. */
  readonly lastSequence: number;
  readonly lastAppendTimeMs: number;
  readonly batches: readonly ProducerBatch[];
}

/** The producer fields of a batch header. */
export interface ProducerBatchHeader {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly lastOffsetDelta: number;
  readonly isTransactional: boolean;
  readonly isControl: boolean;
}

/** The verdict on a leader append: a new batch in sequence, or a retry of a remembered one. */
export type LeaderAppendCheck = { readonly kind: 'append' } | { readonly kind: 'duplicate'; readonly batch: ProducerBatch };

/** The sequence of a batch's last record; sequences wrap from 2^31-1 to 0, as Kafka's do. */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  assert(baseSequence >= 0 && baseSequence <= SEQUENCE_MAX && lastOffsetDelta >= 0, 'lastSequenceOf: bad sequence or delta');
  return baseSequence > SEQUENCE_MAX - lastOffsetDelta ? lastOffsetDelta - (SEQUENCE_MAX - baseSequence) - 1 : baseSequence + lastOffsetDelta;
}

export function nextSequenceAfter(lastSequence: number): number {
  return lastSequence === SEQUENCE_MAX ? 0 : lastSequence + 1;
}

export function isIdempotent(header: ProducerBatchHeader): boolean {
  return header.producerId !== NO_PRODUCER_ID;
}

/**
 * Refuses producer fields no idempotent producer without transactions sends: a producer id
 * without epoch or sequence, a transactional or control batch (transactions are not offered).
 */
export function validateProducerFields(header: ProducerBatchHeader, context: ErrorContext): void {
  if (header.isControl) throw new RivuletError('INVALID_RECORD', 'control batches are written by the broker, never produced', context);
  if (header.isTransactional) {
    throw new RivuletError('INVALID_RECORD', 'transactional batches are refused: this broker offers idempotence without transactions', context);
  }
  if (!isIdempotent(header)) return;
  if (header.producerId < 0 || header.producerEpoch < 0 || header.producerEpoch > PRODUCER_EPOCH_MAX || header.baseSequence < 0) {
    throw new RivuletError(
      'INVALID_RECORD',
      `an idempotent batch needs producerId >= 0, producerEpoch in 0..32767 and baseSequence >= 0; got ${header.producerId}/${header.producerEpoch}/${header.baseSequence}`,
      context,
    );
  }
}

/**
 * Kafka's leader-side checks of an idempotent batch against what the partition knows of its
 * producer (including appends still being written), in this order:
 *   - an older producer epoch: INVALID_PRODUCER_EPOCH (a newer incarnation took over);
 *   - a newer epoch must start at sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER;
 *   - the same epoch: a batch equal to a remembered one is a duplicate (answered with its
 *     offsets, not appended); otherwise it must continue the sequence, else OUT_OF_ORDER;
 *   - an unknown producer must start at sequence 0, else UNKNOWN_PRODUCER_ID (Kafka before
 *     KIP-360's relaxation: the producer learns it lost its state instead of writing on).
 */
export function checkLeaderAppend(entry: ProducerEntry | undefined, header: ProducerBatchHeader, context: ErrorContext): LeaderAppendCheck {
  assert(isIdempotent(header), 'checkLeaderAppend: only idempotent batches are checked');
  const firstSequence = header.baseSequence;
  const who = `producer ${header.producerId} (epoch ${header.producerEpoch})`;
  if (entry === undefined) {
    if (firstSequence === 0) return { kind: 'append' };
    throw new RivuletError('UNKNOWN_PRODUCER_ID', `no state for ${who} on this partition; its first batch here has sequence ${firstSequence}, not 0`, context);
  }
  if (header.producerEpoch < entry.producerEpoch) {
    throw new RivuletError('INVALID_PRODUCER_EPOCH', `${who} is fenced: this partition has seen its epoch ${entry.producerEpoch}`, context);
  }
  if (header.producerEpoch > entry.producerEpoch) {
    if (firstSequence === 0) return { kind: 'append' };
    throw new RivuletError('OUT_OF_ORDER_SEQUENCE_NUMBER', `${who}: the first batch of a new epoch must have sequence 0, got ${firstSequence}`, context);
  }
  const lastSequence = lastSequenceOf(firstSequence, header.lastOffsetDelta);
  const duplicate = entry.batches.find((b) => b.firstSequence === firstSequence && b.lastSequence === lastSequence);
  if (duplicate !== undefined) return { kind: 'duplicate', batch: duplicate };
  const expected = nextSequenceAfter(entry.lastSequence);
  if (firstSequence === expected) return { kind: 'append' };
  throw new RivuletError('OUT_OF_ORDER_SEQUENCE_NUMBER', `${who}: expected sequence ${expected}, got ${firstSequence}`, context);
}

/** The entry after appending `batch` (leader or follower): a newer epoch starts afresh; at most the last 5 batches are kept. */
export function entryAfterAppend(entry: ProducerEntry | undefined, producerId: number, batch: ProducerBatch): ProducerEntry {
  assert(entry === undefined || entry.producerId === producerId, 'entryAfterAppend: wrong producer');
  const kept = entry === undefined || entry.producerEpoch !== batch.producerEpoch ? [] : entry.batches.slice(-(PRODUCER_BATCHES_CACHED_MAX - 1));
  return { producerId, producerEpoch: batch.producerEpoch, lastSequence: batch.lastSequence, lastAppendTimeMs: batch.appendTimeMs, batches: [...kept, batch] };
}

/**
 * The entry as it was before every batch at or after `offset` (a truncation point, always a
 * batch boundary), or undefined when nothing of the producer can be said to remain. When a
 * truncation removes every remembered batch, the sequence just before the oldest of them is
 * still known (it continued the sequence), so the entry keeps that epoch and sequence without
 * batches; if that batch began its epoch (sequence 0), what came before is unknown.
 */
export function entryBeforeOffset(entry: ProducerEntry, offset: number): ProducerEntry | undefined {
  const kept = entry.batches.filter((b) => b.lastOffset < offset);
  if (kept.length === entry.batches.length) return entry;
  const last = kept[kept.length - 1];
  if (last !== undefined) {
    return { ...entry, producerEpoch: last.producerEpoch, lastSequence: last.lastSequence, lastAppendTimeMs: last.appendTimeMs, batches: kept };
  }
  // Every remembered batch is gone, and where the one before them lay is not known: it may
  // be gone too. Guessing its sequence could answer a retry of a removed batch as a duplicate
  // (an acknowledgement for data not in the log), so the producer is forgotten: a follower
  // re-learns it from the leader's batches it fetches next, and a producer that writes here
  // as leader gets UNKNOWN_PRODUCER_ID and starts over.
  return undefined;
}

/** Per-entry changes a PartitionLog must persist: entries written or removed. */
export interface ProducerStateChange {
  readonly put: readonly ProducerEntry[];
  readonly removed: readonly number[];
}

const NO_CHANGE: ProducerStateChange = { put: [], removed: [] };

/**
 * The producers of one partition, least recently appended first (a Map kept in append order),
 * so that expiry and the size bound look at the oldest first. At most `producersMax` are kept:
 * past it the least recently active producer is forgotten, deterministically on every replica
 * (it then gets UNKNOWN_PRODUCER_ID and starts over, as after expiry).
 */
export class ProducerStateTable {
  private readonly entries = new Map<number, ProducerEntry>();

  constructor(
    private readonly producersMax: number,
    loaded: Iterable<ProducerEntry> = [],
  ) {
    assert(Number.isSafeInteger(producersMax) && producersMax > 0, 'producersMax must be a positive integer');
    const sorted = [...loaded].sort((a, b) => a.lastAppendTimeMs - b.lastAppendTimeMs || a.producerId - b.producerId);
    for (const entry of sorted) this.entries.set(entry.producerId, entry);
  }

  get size(): number {
    return this.entries.size;
  }

  get(producerId: number): ProducerEntry | undefined {
    return this.entries.get(producerId);
  }

  list(): ProducerEntry[] {
    return [...this.entries.values()];
  }

  /** Records an appended batch; returns what to persist. */
  append(producerId: number, batch: ProducerBatch): ProducerStateChange {
    const next = entryAfterAppend(this.entries.get(producerId), producerId, batch);
    this.entries.delete(producerId);
    this.entries.set(producerId, next);
    const removed: number[] = [];
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.producersMax) break;
      this.entries.delete(oldest);
      removed.push(oldest);
    }
    return { put: [next], removed };
  }

  /** Rolls every entry back to before `offset` (KIP-279 truncation, or a crash mid-truncation found on load). */
  truncateFrom(offset: number): ProducerStateChange {
    const put: ProducerEntry[] = [];
    const removed: number[] = [];
    for (const [producerId, entry] of this.entries) {
      const next = entryBeforeOffset(entry, offset);
      if (next === entry) continue;
      if (next === undefined) {
        this.entries.delete(producerId);
        removed.push(producerId);
      } else {
        this.entries.set(producerId, next);
        put.push(next);
      }
    }
    return put.length === 0 && removed.length === 0 ? NO_CHANGE : { put, removed };
  }

  /** Forgets producers idle for `expirationMs` or longer (producer.id.expiration.ms). */
  expire(nowMs: number, expirationMs: number): ProducerStateChange {
    const removed: number[] = [];
    for (const [producerId, entry] of this.entries) {
      if (nowMs - entry.lastAppendTimeMs < expirationMs) continue;
      this.entries.delete(producerId);
      removed.push(producerId);
    }
    return removed.length === 0 ? NO_CHANGE : { put: [], removed };
  }

  /** Forgets everything (the log was emptied and restarted). */
  clear(): ProducerStateChange {
    const removed = [...this.entries.keys()];
    this.entries.clear();
    return removed.length === 0 ? NO_CHANGE : { put: [], removed };
  }
}
