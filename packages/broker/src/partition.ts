import { RivuletError, assert, type Logger } from '@rivulet/common';
import { splitBatches, validateProducedBatches } from '@rivulet/records';
import type { PartitionLog, ReadResult } from '@rivulet/storage';
import type { TopicConfig } from './topic-config.js';

export interface AppendOutcome {
  baseOffset: number;
  lastOffset: number;
  logAppendTimeMs: number;
}

/**
 * One partition replica on this broker, as its leader. It validates produced batches,
 * appends them (the log assigns offsets), and moves the high watermark. With a single
 * replica the high watermark follows the log end offset as writes commit; with replication
 * it will follow the in-sync replicas' log end offsets instead.
 */
export class Partition {
  private highWatermarkOffset: number;
  readonly leaderEpoch = 0;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly log: PartitionLog,
    private config: TopicConfig,
    private readonly onHighWatermarkAdvance: () => void,
    private readonly logger: Logger,
  ) {
    this.highWatermarkOffset = log.logEndOffset();
  }

  get highWatermark(): number {
    return this.highWatermarkOffset;
  }

  get topicConfig(): TopicConfig {
    return this.config;
  }

  updateConfig(config: TopicConfig): void {
    this.config = config;
  }

  /**
   * Validates and appends produced bytes: one or more whole RecordBatch v2 batches. Nothing
   * is appended when any batch is invalid. Resolves once every batch is in the log.
   */
  async appendRecordsAsLeader(records: Buffer): Promise<AppendOutcome> {
    await validateProducedBatches(records, { maxBatchBytes: this.config.maxMessageBytes, deep: true });
    const { batches } = splitBatches(records);
    assert(batches.length > 0, 'validated produce data holds at least one batch');
    // Appends are issued together so the log assigns consecutive offsets and commits them in one write batch.
    const results = await Promise.all(batches.map((batch) => this.log.appendAsLeader(batch, this.leaderEpoch)));
    this.advanceHighWatermark();
    const first = results[0]!;
    const last = results[results.length - 1]!;
    return { baseOffset: first.baseOffset, lastOffset: last.lastOffset, logAppendTimeMs: first.logAppendTimeMs };
  }

  private advanceHighWatermark(): void {
    const logEndOffset = this.log.logEndOffset();
    if (logEndOffset <= this.highWatermarkOffset) return;
    this.highWatermarkOffset = logEndOffset;
    this.logger.trace({ highWatermark: logEndOffset }, 'high watermark advanced');
    this.onHighWatermarkAdvance();
  }

  /** Reads committed batches (below the high watermark) for consumers. */
  async readCommitted(fetchOffset: number, maxBytes: number): Promise<ReadResult> {
    if (fetchOffset < this.log.logStartOffset() || fetchOffset > this.highWatermarkOffset) {
      throw new RivuletError(
        'OFFSET_OUT_OF_RANGE',
        `offset ${fetchOffset} is outside the range [${this.log.logStartOffset()}, ${this.highWatermarkOffset}] of ${this.topic}-${this.partition}`,
        { topic: this.topic, partition: this.partition, offset: fetchOffset },
      );
    }
    return this.log.read(fetchOffset, maxBytes, this.highWatermarkOffset);
  }

  async deleteRecordsBefore(offset: number): Promise<number> {
    const target = offset === -1 ? this.highWatermarkOffset : offset;
    if (target < 0 || target > this.highWatermarkOffset) {
      throw new RivuletError(
        'OFFSET_OUT_OF_RANGE',
        `cannot delete records before ${offset}: the high watermark of ${this.topic}-${this.partition} is ${this.highWatermarkOffset}`,
        { topic: this.topic, partition: this.partition, offset },
      );
    }
    if (target <= this.log.logStartOffset()) return this.log.logStartOffset();
    return this.log.deleteRecordsBefore(target);
  }
}
