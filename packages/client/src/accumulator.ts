import type { Clock } from '@rivulet/common';
import { BATCH_HEADER_BYTES } from '@rivulet/records';
import type { DeliveryCallback, RecordHeader, RecordMetadata } from './types.js';
import { tpKey } from './types.js';

/** A record accepted by `send`, waiting in a batch for its delivery report. */
export interface PendingRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
  readonly timestampMs: number;
  /** The estimate charged against bufferMemoryBytes and batchSizeBytes. */
  readonly sizeBytes: number;
  /** Called exactly once, with the error or with where the record was written. */
  readonly onDelivery: DeliveryCallback;
}

/**
 * Room for a record's length, attributes, timestamp and offset deltas and key/value/header
 * counts as varints at their largest, so the estimate never falls short of the encoding.
 */
const RECORD_OVERHEAD_BYTES = 5 + 1 + 10 + 5 + 5 + 5 + 5;

/**
 * What a queued record costs in JavaScript beyond its bytes: the record object, its promise
 * and callbacks, and Buffer wrappers. Charged against bufferMemoryBytes so the bound holds for
 * the process's real memory even when records are tiny.
 */
export const RECORD_MEMORY_OVERHEAD_BYTES = 512;

export function recordMemoryBytes(record: Pick<PendingRecord, 'sizeBytes'>): number {
  return record.sizeBytes + RECORD_MEMORY_OVERHEAD_BYTES;
}

export function estimateRecordBytes(key: Buffer | null, value: Buffer | null, headers: readonly RecordHeader[]): number {
  let bytes = RECORD_OVERHEAD_BYTES + (key?.length ?? 0) + (value?.length ?? 0);
  for (const header of headers) bytes += 10 + Buffer.byteLength(header.key) + (header.value?.length ?? 0);
  return bytes;
}

/** Records bound for one partition, sent and acknowledged as one RecordBatch. */
export class ProducerBatch {
  readonly records: PendingRecord[] = [];
  sizeBytes = BATCH_HEADER_BYTES;
  /** Closed batches take no more records: full, drained for sending, or sent before. */
  closed = false;
  /** Sends so far; 0 until the first. */
  attempts = 0;
  /** Monotonic time before which a retry must not be sent. */
  retryAtMs = 0;
  /** The leader the last attempt failed on: a retry need not wait out its backoff once metadata names another. */
  failedOnLeaderId: number | undefined;
  /** Encoded once and reused by retries, so a retried batch carries the same bytes. */
  encoded: Buffer | undefined;
  private settle!: () => void;
  /** Resolves once every record of the batch is resolved or rejected. */
  readonly done = new Promise<void>((resolve) => {
    this.settle = resolve;
  });

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly createdMs: number,
  ) {}

  /** What the batch's records hold of bufferMemoryBytes (see `recordMemoryBytes`). */
  get memoryBytes(): number {
    return this.sizeBytes - BATCH_HEADER_BYTES + this.records.length * RECORD_MEMORY_OVERHEAD_BYTES;
  }

  complete(metadataFor: (record: PendingRecord, index: number) => RecordMetadata): void {
    this.records.forEach((record, index) => record.onDelivery(undefined, metadataFor(record, index)));
    this.settle();
  }

  fail(err: Error): void {
    for (const record of this.records) record.onDelivery(err, undefined);
    this.settle();
  }
}

/** 'full': a batch is ready now; 'newBatch': a batch started lingering; 'appended': neither. */
export type AppendResult = 'appended' | 'newBatch' | 'full';

export interface AccumulatorOptions {
  readonly batchSizeBytes: number;
  readonly lingerMs: number;
  /** A batch not sent within this time of its creation is expired (Kafka's delivery.timeout.ms). */
  readonly deliveryTimeoutMs: number;
  readonly clock: Clock;
  /** Told when a batch closes, so the sticky partitioner moves on (KIP-480). */
  readonly onBatchClosed: (topic: string, partition: number) => void;
  /** Told when a batch opens, so the producer can wait for it in flush(). */
  readonly onBatchCreated?: (batch: ProducerBatch) => void;
}

/**
 * Collects records into per-partition batches, Kafka's RecordAccumulator. A batch is ready to
 * send when it is full (`batchSizeBytes`), has waited `lingerMs`, a flush or close asks for
 * everything, or another batch is queued behind it. Each partition's batches leave in order,
 * and a batch that is retried goes back to the front of its queue.
 */
export class RecordAccumulator {
  private readonly queues = new Map<string, ProducerBatch[]>();
  private flushesInProgress = 0;

  constructor(private readonly options: AccumulatorOptions) {}

  /** Adds a record; says whether it joined the open batch, opened a new one, or made one ready (full). */
  append(topic: string, partition: number, record: PendingRecord): AppendResult {
    const key = tpKey(topic, partition);
    let queue = this.queues.get(key);
    if (queue === undefined) {
      queue = [];
      this.queues.set(key, queue);
    }
    let batch = queue.at(-1);
    let result: AppendResult = 'appended';
    if (batch !== undefined && !batch.closed && batch.records.length > 0 && batch.sizeBytes + record.sizeBytes > this.options.batchSizeBytes) {
      this.close(batch);
      result = 'full';
    }
    if (batch === undefined || batch.closed) {
      if (result === 'appended') result = 'newBatch';
      batch = new ProducerBatch(topic, partition, this.options.clock.nowMs());
      queue.push(batch);
      this.options.onBatchCreated?.(batch);
    }
    batch.records.push(record);
    batch.sizeBytes += record.sizeBytes;
    if (batch.sizeBytes >= this.options.batchSizeBytes) {
      this.close(batch);
      result = 'full';
    }
    return result;
  }

  /** Puts a batch that failed with a retriable error back at the front of its partition's queue. */
  reenqueue(batch: ProducerBatch): void {
    const key = tpKey(batch.topic, batch.partition);
    const queue = this.queues.get(key);
    if (queue === undefined) this.queues.set(key, [batch]);
    else queue.unshift(batch);
  }

  /**
   * Removes and returns the head batch of every partition that is ready and for which
   * `canSend` agrees (its leader is known and has room for another request).
   */
  drainReady(canSend: (topic: string, partition: number) => boolean): ProducerBatch[] {
    const nowMs = this.options.clock.nowMs();
    const drained: ProducerBatch[] = [];
    for (const [key, queue] of this.queues) {
      const head = queue[0];
      if (head === undefined) {
        this.queues.delete(key);
        continue;
      }
      if (!this.isReady(head, queue.length, nowMs) || !canSend(head.topic, head.partition)) continue;
      queue.shift();
      if (!head.closed) this.close(head);
      if (queue.length === 0) this.queues.delete(key);
      drained.push(head);
    }
    return drained;
  }

  /**
   * Milliseconds until the sender has something to do by time alone: a linger or retry
   * backoff ends, or a batch reaches its delivery timeout. Batches that are ready but that
   * `canSend` refuses (leader unknown, in-flight window full) only count by their timeout:
   * what unblocks them (a metadata refresh, a response) wakes the sender itself, and
   * counting them as ready would spin.
   */
  nextWakeDelayMs(canSend: (topic: string, partition: number) => boolean): number | undefined {
    const nowMs = this.options.clock.nowMs();
    let earliest = Number.POSITIVE_INFINITY;
    for (const queue of this.queues.values()) {
      const head = queue[0];
      if (head === undefined) continue;
      earliest = Math.min(earliest, head.createdMs + this.options.deliveryTimeoutMs);
      const readyAt = head.attempts > 0 ? head.retryAtMs : this.flushing || head.closed || queue.length > 1 ? nowMs : head.createdMs + this.options.lingerMs;
      if (readyAt > nowMs || canSend(head.topic, head.partition)) earliest = Math.min(earliest, readyAt);
    }
    return Number.isFinite(earliest) ? Math.max(0, earliest - nowMs) : undefined;
  }

  /** Removes and returns batches that waited in the queue for `deliveryTimeoutMs` without being sent. */
  removeExpired(): ProducerBatch[] {
    const nowMs = this.options.clock.nowMs();
    const expired: ProducerBatch[] = [];
    for (const [key, queue] of this.queues) {
      const kept = queue.filter((batch) => nowMs - batch.createdMs < this.options.deliveryTimeoutMs);
      if (kept.length === queue.length) continue;
      expired.push(...queue.filter((batch) => !kept.includes(batch)));
      if (kept.length === 0) this.queues.delete(key);
      else this.queues.set(key, kept);
    }
    return expired;
  }

  get isEmpty(): boolean {
    return this.queues.size === 0;
  }

  /** Every queued batch, e.g. to fail them all on close. */
  removeAll(): ProducerBatch[] {
    const all = [...this.queues.values()].flat();
    this.queues.clear();
    return all;
  }

  beginFlush(): void {
    this.flushesInProgress++;
  }

  endFlush(): void {
    this.flushesInProgress--;
  }

  private get flushing(): boolean {
    return this.flushesInProgress > 0;
  }

  private isReady(head: ProducerBatch, queueLength: number, nowMs: number): boolean {
    if (head.attempts > 0) return nowMs >= head.retryAtMs;
    return head.closed || queueLength > 1 || this.flushing || nowMs - head.createdMs >= this.options.lingerMs;
  }

  private close(batch: ProducerBatch): void {
    batch.closed = true;
    this.options.onBatchClosed(batch.topic, batch.partition);
  }
}
