import { RivuletError, assert, type Clock, type Logger } from '@rivulet/common';
import { splitBatches, validateProducedBatches } from '@rivulet/records';
import { LeaderPartitionState, followerHighWatermark, type AlterPartitionProposal, type IsrChangeRejection, type ReplicaIsrEligibility } from '@rivulet/replication';
import type { AppendResult, PartitionLog, ReadResult } from '@rivulet/storage';
import { AppendTurns } from './append-turns.js';
import { isCompacted, logRetentionOf, type TopicConfig } from './topic-config.js';

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

/** What a partition replica needs to take part in replication. */
export interface ReplicationContext {
  readonly nodeId: number;
  readonly clock: Clock;
  /** replica.lag.time.max.ms: how long an ISR follower may go without catching up. */
  readonly replicaLagTimeMaxMs: number;
  /** Whether a broker may join an ISR (registered, unfenced, not shutting down). */
  readonly isReplicaIsrEligible: ReplicaIsrEligibility;
  /** Consumers and parked fetches, followers' included: leadership changed or this leader was fenced. */
  readonly onChange: () => void;
  /**
   * Consumers' parked fetches: the high watermark moved. Parked follower fetches are not
   * woken by it (as in Kafka, a follower learns the high watermark with its next fetch's data
   * or when its wait ends); else every acks=all record would make each parked follower fetch
   * read the log once more on the leader, find nothing and park again.
   */
  readonly onHighWatermark: () => void;
  /** Parked follower fetches: the leader's log end moved. */
  readonly onAppend: () => void;
  /** An ISR change this leader wants the controller to commit (AlterPartition). */
  readonly onIsrChangeProposed: (partition: Partition, proposal: AlterPartitionProposal) => void;
}

/** An acks=all produce waiting for the high watermark to pass its last offset. */
interface AcksAllWaiter {
  readonly lastOffset: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Parked acks=all produces per partition; past it a produce fails at once instead of waiting. */
const ACKS_ALL_WAITERS_MAX = 10_000;

/**
 * One partition replica on this broker. The committed metadata makes it the leader or a
 * follower (`applyAssignment`).
 *
 * As leader it validates produced batches, appends them in its leader epoch (the log assigns
 * offsets), and keeps a LeaderPartitionState (@rivulet/replication): followers' fetches move
 * their log ends, the high watermark is the smallest log end over the ISR, acks=all produces
 * wait until it passes their batch, and ISR changes go to the controller.
 *
 * As follower its log is written by the replica fetcher (appendAsFollower, truncation) and
 * its high watermark is the leader's, capped at its own log end.
 */
export class Partition {
  private highWatermarkOffset: number;
  private assignment: ReplicaAssignment;
  private leaderState: LeaderPartitionState | undefined = undefined;
  private readonly acksAllWaiters = new Set<AcksAllWaiter>();
  private readonly appendTurns = new AppendTurns();

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** Tells this topic from an earlier one of the same name. */
    readonly topicId: string,
    readonly log: PartitionLog,
    private config: TopicConfig,
    private readonly context: ReplicationContext,
    private readonly logger: Logger,
  ) {
    // The last checkpoint: what this replica knew to be committed when it last wrote one.
    this.highWatermarkOffset = Math.min(log.highWatermarkCheckpoint(), log.logEndOffset());
    this.assignment = { leaderId: -1, leaderEpoch: -1, partitionEpoch: -1, replicas: [], isr: [] };
  }

  get leaderEpoch(): number {
    return this.assignment.leaderEpoch;
  }

  get partitionEpoch(): number {
    return this.assignment.partitionEpoch;
  }

  get leaderId(): number {
    return this.assignment.leaderId;
  }

  get isLeader(): boolean {
    return this.assignment.leaderId === this.context.nodeId && this.leaderState !== undefined && !this.leaderState.isFenced;
  }

  get replicas(): readonly number[] {
    return this.assignment.replicas;
  }

  /** The committed ISR (the leader's view once it leads: it includes ISR changes it was answered). */
  get isr(): readonly number[] {
    return this.leaderState?.isr ?? this.assignment.isr;
  }

  /** The leader-side state while this replica leads. */
  get leader(): LeaderPartitionState | undefined {
    return this.leaderState;
  }

  private get minInsyncReplicas(): number {
    return this.config.minInsyncReplicas;
  }

  /**
   * Takes the committed leader, epochs, replicas and ISR. Epochs never go back. Becoming
   * leader (or a new leader epoch, or new replicas) builds a fresh LeaderPartitionState, after
   * recording in the epoch cache that the new leader epoch starts at the log end; a newer
   * partition epoch in the same leader epoch is an ISR change the leader takes as committed.
   */
  applyAssignment(next: ReplicaAssignment): void {
    const previous = this.assignment;
    if (next.partitionEpoch < previous.partitionEpoch) return;
    this.assignment = next;
    const isLeaderChanged = next.leaderId !== previous.leaderId || next.leaderEpoch !== previous.leaderEpoch;
    const nowMs = this.context.clock.nowMs();
    if (next.leaderId === this.context.nodeId) {
      const state = this.leaderState;
      if (isLeaderChanged || state === undefined || !sameIds(state.replicas, next.replicas)) {
        const logEndOffset = this.log.logEndOffset();
        if (isLeaderChanged || state === undefined) this.log.assignLeaderEpochStart(next.leaderEpoch, logEndOffset);
        this.leaderState = new LeaderPartitionState({
          leaderId: this.context.nodeId,
          leaderEpoch: next.leaderEpoch,
          partitionEpoch: next.partitionEpoch,
          replicas: next.replicas,
          isr: next.isr,
          logEndOffset,
          highWatermark: Math.min(this.highWatermarkOffset, logEndOffset),
          leaderEpochStartOffset: state !== undefined && !isLeaderChanged ? state.leaderEpochStartOffset : logEndOffset,
          replicaLagTimeMaxMs: this.context.replicaLagTimeMaxMs,
          minInsyncReplicas: this.minInsyncReplicas,
          nowMs,
        });
        // An ISR of the leader alone commits everything it has at once.
        this.takeHighWatermark(this.leaderState.onLeaderAppend(logEndOffset).highWatermark);
      } else if (next.partitionEpoch > previous.partitionEpoch) {
        const update = state.onIsrChangeCommitted(next.isr, next.partitionEpoch, next.leaderEpoch);
        if (update.isApplied) this.logger.info({ isr: next.isr, leaderEpoch: next.leaderEpoch, partitionEpoch: next.partitionEpoch }, 'ISR changed');
        this.takeHighWatermark(update.highWatermark);
      }
      this.settleAcksAllWaiters();
    } else if (this.leaderState !== undefined) {
      this.leaderState = undefined;
      this.failAcksAllWaiters(this.notLeader());
    }
    if (!isLeaderChanged) return;
    this.logger.info(
      { leaderId: next.leaderId, leaderEpoch: next.leaderEpoch, isr: next.isr, role: next.leaderId === this.context.nodeId ? 'leader' : 'follower' },
      'partition leadership changed',
    );
    // Parked fetches wake up and see the change (NOT_LEADER_OR_FOLLOWER, or new data).
    this.context.onChange();
  }

  get highWatermark(): number {
    return this.highWatermarkOffset;
  }

  get topicConfig(): TopicConfig {
    return this.config;
  }

  /** Takes the topic's current configs; retention (only with cleanup.policy delete) applies to the log from its next run. */
  updateConfig(config: TopicConfig): void {
    this.config = config;
    const current = this.log.retentionConfig();
    const wanted = logRetentionOf(config);
    if (current.retentionMs !== wanted.retentionMs || current.retentionBytes !== wanted.retentionBytes) this.log.updateConfig(wanted);
  }

  /**
   * Validates and appends produced bytes: one or more whole RecordBatch v2 batches. Nothing
   * is appended when any batch is invalid (a record without a key is, in a compacted topic:
   * INVALID_RECORD), nor, for acks=all, while the ISR is smaller than
   * min.insync.replicas (NOT_ENOUGH_REPLICAS). Resolves once every batch is in the log, and
   * for acks=all once the high watermark passed them (or with the error that ends the wait:
   * NOT_ENOUGH_REPLICAS_AFTER_APPEND, NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT after `timeoutMs`).
   */
  async appendRecordsAsLeader(records: Buffer, acks: number = 1, timeoutMs: number = 30_000): Promise<AppendOutcome> {
    const state = this.requireLeader();
    if (acks === -1) state.checkEnoughReplicasForAppend();
    // Produced batches reach the log in the order their requests arrived (a producer's pipelined
    // requests keep their order, as on a Kafka connection), whatever their validation takes;
    // idempotent ones are checked there against their producer's state.
    const turn = this.appendTurns.take();
    let appended: Promise<AppendResult[]>;
    try {
      await validateProducedBatches(records, { maxBatchBytes: this.config.maxMessageBytes, deep: true, requireKeys: isCompacted(this.config.cleanupPolicy) });
      const { batches } = splitBatches(records);
      assert(batches.length > 0, 'validated produce data holds at least one batch');
      await turn.ready;
      // Appends are issued together so the log assigns consecutive offsets and commits them in one write batch.
      appended = this.log.appendBatchesAsLeader(batches, state.leaderEpoch);
    } finally {
      turn.release();
    }
    const results = await appended;
    const first = results[0]!;
    const last = results[results.length - 1]!;
    const outcome = { baseOffset: first.baseOffset, lastOffset: last.lastOffset, logAppendTimeMs: first.logAppendTimeMs };
    // Leadership may have moved while the write was in flight; the log end is still ours to report.
    if (this.leaderState === state && !state.isFenced) {
      this.takeHighWatermark(state.onLeaderAppend(this.log.logEndOffset()).highWatermark);
      this.context.onAppend();
    }
    if (acks === -1) await this.waitForAcksAll(state, outcome.lastOffset, timeoutMs);
    return outcome;
  }

  private requireLeader(): LeaderPartitionState {
    const state = this.leaderState;
    if (state === undefined || state.isFenced || this.assignment.leaderId !== this.context.nodeId) throw this.notLeader();
    return state;
  }

  private waitForAcksAll(state: LeaderPartitionState, lastOffset: number, timeoutMs: number): Promise<void> {
    if (this.leaderState !== state) return Promise.reject(this.notLeader());
    const completion = state.acksAllCompletion(lastOffset);
    if (completion.isDone) return completion.error === undefined ? Promise.resolve() : Promise.reject(completion.error);
    if (this.acksAllWaiters.size >= ACKS_ALL_WAITERS_MAX) {
      return Promise.reject(
        new RivuletError('REQUEST_TIMED_OUT', `${ACKS_ALL_WAITERS_MAX} acks=all writes already wait for the replicas of ${this.topic}-${this.partition}`, {
          topic: this.topic,
          partition: this.partition,
        }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: AcksAllWaiter = {
        lastOffset,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.acksAllWaiters.delete(waiter);
          reject(
            new RivuletError('REQUEST_TIMED_OUT', `offset ${lastOffset} of ${this.topic}-${this.partition} was written but not replicated to the ISR within ${timeoutMs} ms`, {
              topic: this.topic,
              partition: this.partition,
              offset: lastOffset,
            }),
          );
        }, timeoutMs),
      };
      this.acksAllWaiters.add(waiter);
    });
  }

  /** Completes the acks=all writes the high watermark (or an ISR change) decided. */
  private settleAcksAllWaiters(): void {
    if (this.acksAllWaiters.size === 0) return;
    const state = this.leaderState;
    if (state === undefined) return;
    for (const waiter of [...this.acksAllWaiters]) {
      const completion = state.acksAllCompletion(waiter.lastOffset);
      if (!completion.isDone) continue;
      this.acksAllWaiters.delete(waiter);
      clearTimeout(waiter.timer);
      if (completion.error === undefined) waiter.resolve();
      else waiter.reject(completion.error);
    }
  }

  private failAcksAllWaiters(error: RivuletError): void {
    for (const waiter of this.acksAllWaiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.acksAllWaiters.clear();
  }

  /** Moves the high watermark forward (never back) and wakes whoever waits on it. */
  private takeHighWatermark(highWatermark: number): void {
    if (highWatermark <= this.highWatermarkOffset) return;
    this.highWatermarkOffset = highWatermark;
    this.logger.trace({ highWatermark }, 'high watermark advanced');
    this.settleAcksAllWaiters();
    this.context.onHighWatermark();
  }

  // ---- leader side of replication ----------------------------------------------------------

  /**
   * A follower's fetch at `fetchOffset` (its log end) in `leaderEpoch`: records its progress,
   * moves the high watermark, and proposes an ISR expansion when the follower caught up.
   * Throws what Kafka answers a bad replica fetch with (FENCED_LEADER_EPOCH,
   * UNKNOWN_LEADER_EPOCH, OFFSET_OUT_OF_RANGE, NOT_LEADER_OR_FOLLOWER).
   */
  onFollowerFetch(followerId: number, leaderEpoch: number, fetchOffset: number, followerLogStartOffset: number): void {
    const state = this.requireLeader();
    const nowMs = this.context.clock.nowMs();
    const update = state.onFollowerFetch({ followerId, leaderEpoch, fetchOffset, followerLogStartOffset, nowMs });
    this.takeHighWatermark(update.highWatermark);
    this.maybeProposeIsrChange(nowMs);
  }

  /** Shrinks the ISR of followers that fell behind (the broker calls this on a timer). */
  maybeProposeIsrChange(nowMs: number = this.context.clock.nowMs()): void {
    const state = this.leaderState;
    if (state === undefined || state.isFenced) return;
    const proposal = state.proposeIsrChange(nowMs, this.context.isReplicaIsrEligible);
    if (proposal === undefined) return;
    this.logger.info({ kind: proposal.kind, isr: state.isr, newIsr: proposal.newIsr, leaderEpoch: proposal.leaderEpoch, partitionEpoch: proposal.partitionEpoch }, 'proposing an ISR change');
    this.context.onIsrChangeProposed(this, proposal);
  }

  /** The controller's answer to `proposal`: committed state, or a refusal's code. */
  onIsrChangeAnswered(proposal: AlterPartitionProposal, answer: { errorCode: number; isr: readonly number[]; leaderEpoch: number; partitionEpoch: number }): IsrChangeRejection | 'ignored' | 'committed' {
    const state = this.leaderState;
    if (state === undefined || state.leaderEpoch !== proposal.leaderEpoch) return 'ignored';
    if (answer.errorCode === 0) {
      const update = state.onIsrChangeCommitted(answer.isr, answer.partitionEpoch, answer.leaderEpoch);
      if (update.isApplied) this.logger.info({ isr: answer.isr, leaderEpoch: answer.leaderEpoch, partitionEpoch: answer.partitionEpoch }, 'ISR changed');
      this.takeHighWatermark(update.highWatermark);
      this.settleAcksAllWaiters();
      if (state.isFenced) this.onFenced();
      return 'committed';
    }
    const rejection = state.onIsrChangeRejected(answer.errorCode, proposal);
    if (rejection === 'fenced') this.onFenced();
    return rejection;
  }

  private onFenced(): void {
    this.logger.warn({ leaderEpoch: this.assignment.leaderEpoch }, 'the controller fenced this leader: it stops acting as leader until metadata says otherwise');
    this.failAcksAllWaiters(this.notLeader());
    this.context.onChange();
  }

  // ---- follower side of replication --------------------------------------------------------

  /** The leader's high watermark, as a follower learns it, capped at this replica's log end. */
  takeLeaderHighWatermark(leaderHighWatermark: number): void {
    if (this.leaderState !== undefined) return;
    this.takeHighWatermark(followerHighWatermark(leaderHighWatermark, this.log.logEndOffset()));
  }

  /** After a follower truncated its log: the high watermark may not pass the new log end. */
  afterTruncation(): void {
    const logEndOffset = this.log.logEndOffset();
    if (this.highWatermarkOffset > logEndOffset) this.highWatermarkOffset = logEndOffset;
  }

  notLeader(): RivuletError {
    const leaderId = this.assignment.leaderId;
    const isFencedHere = leaderId === this.context.nodeId;
    return new RivuletError(
      'NOT_LEADER_OR_FOLLOWER',
      isFencedHere
        ? `this broker's leadership of ${this.topic}-${this.partition} was fenced by the controller; wait for new metadata`
        : `this broker does not lead ${this.topic}-${this.partition}${leaderId >= 0 ? `; broker ${leaderId} does` : '; it has no leader now'}`,
      { topic: this.topic, partition: this.partition, leaderId: isFencedHere ? -1 : leaderId },
    );
  }

  /**
   * Reads committed batches (below the high watermark) for consumers. As in Kafka, an offset is
   * out of range only below the log start or past the log end: between the high watermark and
   * the log end the answer is empty. A leader that just took over may know a lower high
   * watermark than its predecessor did (followers learn it one fetch late), and a consumer that
   * read up to the old one must wait there, not be sent back to its autoOffsetReset.
   */
  async readCommitted(fetchOffset: number, maxBytes: number): Promise<ReadResult> {
    const logEndOffset = this.log.logEndOffset();
    if (fetchOffset < this.log.logStartOffset() || fetchOffset > logEndOffset) {
      throw new RivuletError(
        'OFFSET_OUT_OF_RANGE',
        `offset ${fetchOffset} is outside the range [${this.log.logStartOffset()}, ${logEndOffset}] of ${this.topic}-${this.partition}`,
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

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
