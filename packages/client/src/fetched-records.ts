import type { DecodedBatch } from '@rivulet/records';
import { lastOffsetOf } from '@rivulet/records';
import type { ConsumerRecord } from './types.js';

/** The records a fetch returned for one partition, ready for the application, and where the next fetch starts. */
export interface FetchedRecords {
  readonly records: ConsumerRecord[];
  /** The offset after the last whole batch, or `fetchOffset` when there was none. */
  readonly nextFetchOffset: number;
}

/**
 * Turns decoded batches into records at or after `fetchOffset`. A broker answers with whole
 * batches, so the first may start before the offset asked for (a seek into the middle of a
 * batch, or a fetch resuming after a partial read): those earlier records are skipped, as are
 * control batches (transaction markers), which are not application records.
 */
export function recordsFromBatches(topic: string, partition: number, fetchOffset: number, batches: readonly DecodedBatch[]): FetchedRecords {
  const records: ConsumerRecord[] = [];
  let nextFetchOffset = fetchOffset;
  for (const batch of batches) {
    nextFetchOffset = Math.max(nextFetchOffset, lastOffsetOf(batch.header) + 1);
    if (batch.header.isControl) continue;
    for (const record of batch.records) {
      if (record.offset < fetchOffset) continue;
      records.push({
        topic,
        partition,
        offset: record.offset,
        timestamp: record.timestampMs,
        key: record.key,
        value: record.value,
        headers: record.headers,
      });
    }
  }
  return { records, nextFetchOffset };
}
