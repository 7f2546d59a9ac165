import { RivuletError, assert, type Logger } from '@rivulet/common';
import { splitBatches, validateProducedBatches } from '@rivulet/records';
import type { PartitionLog, ReadResult } from '@rivulet/storage';
import type { TopicConfig } from './topic-config.js';

export interface AppendOutcome {
  baseOffset: number;
  lastOffset: number;
  logAppendTimeMs: number;
}

/** Where this replica stands in the partition, as the committed metadata says. */
export interface ReplicaAssignment {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

/**
 * One partition replica on this broker. The committed metadata makes it the leader or a
 * follower (`applyAssignment`); as leader it validates produced batches, appends them in its
 * leader epoch (the log assigns offsets) and moves the high watermark. Until replication
 * exists the high watermark follows the leader's log end offset as writes commit; with
 * replication it will follow the in-sync replicas' log end offsets instead.
 */
export class Partition {
  private highWatermarkOffset: number;
  private assignment: ReplicaAssignment;

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** Tells this topic from an earlier one of the same name. */
    readonly topicId: string,
    readonly log: PartitionLog,
    private config: TopicConfig,
    private readonly nodeId: number,
    private readonly onChange: () => void,
    private readonly logger: Logger,
  ) {
    this.highWatermarkOffset = log.logEndOffset();
    this.assignment = { leaderId: -1, leaderEpoch: -1, partitionEpoch: -1, replicas: [], isr: [] };
  }

  get leaderEpoch(): number {
    return this.assignment.leaderEpoch;
  }

  get leaderId(): number {
    return this.assignment.leaderId;
  }

  get isLeader(): boolean {
    return this.assignment.leaderId === this.nodeId;
  }

  get replicas(): readonly number[] {
    return this.assignment.replicas;
  }

  get isr(): readonly number[] {
    return this.assignment.isr;
  }

  /** Takes the committed leader, epochs and replica set. Epochs never go back. */
  applyAssignment(next: ReplicaAssignment): void {
    const previous = this.assignment;
    if (next.partitionEpoch < previous.partitionEpoch) return;
    this.assignment = next;
    if (next.leaderId === previous.leaderId && next.leaderEpoch === previous.leaderEpoch) return;
    if (next.leaderId === this.nodeId) {
      // A single copy is all there is until followers replicate: everything appended counts.
      this.highWatermarkOffset = Math.max(this.highWatermarkOffset, this.log.logEndOffset());
    }
    this.logger.info(
      { leaderId: next.leaderId, leaderEpoch: next.leaderEpoch, role: next.leaderId === this.nodeId ? 'leader' : 'follower' },
      'partition leadership changed',
    );
    // Parked fetches wake up and see the change (NOT_LEADER_OR_FOLLOWER, or new data).
    this.onChange();
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
    if (!this.isLeader) throw this.notLeader();
    await validateProducedBatches(records, { maxBatchBytes: this.config.maxMessageBytes, deep: true });
    const { batches } = splitBatches(records);
    assert(batches.length > 0, 'validated produce data holds at least one batch');
    // Appends are issued together so the log assigns consecutive offsets and commits them in one write batch.
    const leaderEpoch = this.assignment.leaderEpoch;
    const results = await Promise.all(batches.map((batch) => this.log.appendAsLeader(batch, leaderEpoch)));
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
    this.onChange();
  }

  notLeader(): RivuletError {
    const leaderId = this.assignment.leaderId;
    return new RivuletError(
      'NOT_LEADER_OR_FOLLOWER',
      `this broker does not lead ${this.topic}-${this.partition}${leaderId >= 0 ? `; broker ${leaderId} does` : '; it has no leader now'}`,
      { topic: this.topic, partition: this.partition, leaderId },
    );
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
