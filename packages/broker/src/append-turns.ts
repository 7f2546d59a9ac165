import { BATCH_HEADER_BYTES, HeaderField } from '@rivulet/records';

/** One place in the line: wait for `ready`, do the ordered step, then `release` (always, even on failure). */
export interface AppendTurn {
  readonly ready: Promise<void>;
  readonly release: () => void;
}

/**
 * Keeps a partition's idempotent appends in the order their requests arrived. A produce is
 * validated asynchronously (decompression runs off the main thread), so a producer's batch
 * sent second could otherwise reach the log first and be refused as out of sequence, although
 * the producer sent them in order (librdkafka keeps up to five in flight). Validation still
 * runs concurrently; only the step from "validated" to "handed to the log" waits its turn.
 * The line is as long as the produces in flight for the partition, which the connections'
 * in-flight windows bound.
 */
export class AppendTurns {
  private last: Promise<void> = Promise.resolve();

  take(): AppendTurn {
    const ready = this.last;
    let release!: () => void;
    this.last = new Promise<void>((resolve) => {
      release = resolve;
    });
    return { ready, release };
  }
}

/** Whether produced bytes start with a batch from an idempotent producer (producerId is not -1); a peek, before validation. */
export function startsWithIdempotentBatch(records: Buffer): boolean {
  return records.length >= BATCH_HEADER_BYTES && records.readBigInt64BE(HeaderField.producerId) !== -1n;
}
