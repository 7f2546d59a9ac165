/**
 * The leader side of one partition replica: follower progress → ISR → high watermark, after
 * Kafka's Partition.scala and Replica.scala. Pure and synchronous: the broker feeds it follower
 * fetches, its own appends and the controller's answers, with the time as a number (`nowMs`,
 * from the injected monotonic Clock), and acts on what it returns.
 *
 * The ISR has two views. The *committed* ISR is the controller's (its answer is the truth);
 * the *maximal* ISR adds the replicas of a pending AlterPartition, so during a pending
 * expansion it is the larger new set and during a pending shrink still the old larger set.
 * The high watermark waits for every maximal-ISR member, so it never depends on a change the
 * controller has not committed (Kafka's "maximal ISR", KIP-497).
 */
import { RivuletError, assert, assertSafeUint, unreachable } from '@rivulet/common';
import { classifyIsrChangeRejection } from './alter-partition.js';
import type { AlterPartitionProposal, IsrChangeRejection } from './alter-partition.js';

/** Offsets reported as -1 are unknown: a follower that has not fetched since this leader epoch began. */
export const UNKNOWN_OFFSET = -1;

export interface LeaderPartitionConfig {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** The leader's log-end offset now. */
  readonly logEndOffset: number;
  /** The leader's high watermark now (its checkpoint, or the previous leader's value). */
  readonly highWatermark: number;
  /**
   * The leader's log-end offset when it became leader of `leaderEpoch`, where the epoch's
   * first record goes. Defaults to `logEndOffset`, which is right for a new leader.
   */
  readonly leaderEpochStartOffset?: number;
  /** replica.lag.time.max.ms: how long an ISR member may go without catching up. */
  readonly replicaLagTimeMaxMs: number;
  /** min.insync.replicas: the smallest ISR that accepts acks=all writes. */
  readonly minInsyncReplicas: number;
  /** The monotonic time now; ISR members count as caught up at this moment. */
  readonly nowMs: number;
}

/** One Fetch request of a follower for this partition, as the leader receives it. */
export interface FollowerFetch {
  readonly followerId: number;
  /** The leader epoch the follower believes current (Kafka's currentLeaderEpoch). */
  readonly leaderEpoch: number;
  /** The follower's log-end offset: it has every record below this offset. */
  readonly fetchOffset: number;
  readonly followerLogStartOffset: number;
  readonly nowMs: number;
}

/** What the leader knows of one follower (Kafka's ReplicaState). */
export interface FollowerProgress {
  readonly followerId: number;
  /** UNKNOWN_OFFSET until the follower's first fetch in this leader epoch. */
  readonly logEndOffset: number;
  readonly logStartOffset: number;
  /** undefined until the first fetch. */
  readonly lastFetchTimeMs: number | undefined;
  /** The leader's log-end offset at the last fetch (the max over fetches). */
  readonly lastFetchLeaderLogEndOffset: number;
  /** When the follower last had everything the leader had; -Infinity when never. */
  readonly lastCaughtUpTimeMs: number;
}

export interface HighWatermarkUpdate {
  readonly highWatermark: number;
  /** True when this call moved the high watermark: complete delayed produce and fetch requests. */
  readonly isHighWatermarkAdvanced: boolean;
}

/** The outcome of an acks=all write whose last record is at `lastOffset`. */
export type AcksAllCompletion =
  | { readonly isDone: false }
  | { readonly isDone: true; readonly error: RivuletError | undefined };

/** Whether a replica may join the ISR (Kafka: registered, unfenced, not shutting down). */
export type ReplicaIsrEligibility = (replicaId: number) => boolean;

const everyReplicaEligible: ReplicaIsrEligibility = () => true;

export class LeaderPartitionState {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly leaderEpochStartOffset: number;
  readonly replicaLagTimeMaxMs: number;
  readonly minInsyncReplicas: number;

  private partitionEpochValue: number;
  private committedIsr: readonly number[];
  private pending: AlterPartitionProposal | undefined = undefined;
  private isPendingAwaitingMetadata = false;
  private isFencedValue = false;
  private logEndOffsetValue: number;
  private highWatermarkValue: number;
  private readonly followers = new Map<number, FollowerProgressState>();

  constructor(config: LeaderPartitionConfig) {
    validateConfig(config);
    this.leaderId = config.leaderId;
    this.leaderEpoch = config.leaderEpoch;
    this.partitionEpochValue = config.partitionEpoch;
    this.replicas = [...config.replicas];
    this.committedIsr = sortedIds(config.isr);
    this.logEndOffsetValue = config.logEndOffset;
    this.highWatermarkValue = config.highWatermark;
    this.leaderEpochStartOffset = config.leaderEpochStartOffset ?? config.logEndOffset;
    this.replicaLagTimeMaxMs = config.replicaLagTimeMaxMs;
    this.minInsyncReplicas = config.minInsyncReplicas;
    for (const replicaId of this.replicas) {
      if (replicaId === this.leaderId) continue;
      // As Kafka's resetReplicaState for a new leader: ISR members count as caught up now,
      // so they get a full replica.lag.time.max.ms to fetch before they can be removed.
      const isInIsr = this.committedIsr.includes(replicaId);
      this.followers.set(replicaId, {
        followerId: replicaId,
        logEndOffset: UNKNOWN_OFFSET,
        logStartOffset: UNKNOWN_OFFSET,
        lastFetchTimeMs: undefined,
        lastFetchLeaderLogEndOffset: UNKNOWN_OFFSET,
        lastCaughtUpTimeMs: isInIsr ? config.nowMs : Number.NEGATIVE_INFINITY,
      });
    }
  }

  get partitionEpoch(): number {
    return this.partitionEpochValue;
  }

  get logEndOffset(): number {
    return this.logEndOffsetValue;
  }

  get highWatermark(): number {
    return this.highWatermarkValue;
  }

  /** The controller's ISR, sorted by replica id. */
  get isr(): readonly number[] {
    return this.committedIsr;
  }

  /** The committed ISR plus the replicas of a pending change; the high watermark waits for all. */
  get maximalIsr(): readonly number[] {
    if (this.pending === undefined) return this.committedIsr;
    return sortedIds([...new Set([...this.committedIsr, ...this.pending.newIsr])]);
  }

  /** The AlterPartition in flight, if any. At most one exists. */
  get pendingIsrChange(): AlterPartitionProposal | undefined {
    return this.pending;
  }

  /** True after the controller said this broker no longer leads the partition. Terminal. */
  get isFenced(): boolean {
    return this.isFencedValue;
  }

  followerProgress(followerId: number): FollowerProgress | undefined {
    const progress = this.followers.get(followerId);
    return progress === undefined ? undefined : { ...progress };
  }

  /**
   * Checks the leader epoch a request carries (Fetch, OffsetForLeaderEpoch), as Kafka's
   * validateCurrentLeaderEpoch: an older one is FENCED_LEADER_EPOCH (the sender must refresh
   * and truncate), a newer one UNKNOWN_LEADER_EPOCH (this leader is behind and must not answer).
   */
  checkLeaderEpoch(requestLeaderEpoch: number): void {
    if (this.isFencedValue) {
      throw new RivuletError('NOT_LEADER_OR_FOLLOWER', 'this broker is no longer the leader of the partition', {
        leaderEpoch: this.leaderEpoch,
        nodeId: this.leaderId,
      });
    }
    if (requestLeaderEpoch < this.leaderEpoch) {
      throw new RivuletError('FENCED_LEADER_EPOCH', `leader epoch ${requestLeaderEpoch} is older than ${this.leaderEpoch}`, {
        leaderEpoch: this.leaderEpoch,
      });
    }
    if (requestLeaderEpoch > this.leaderEpoch) {
      throw new RivuletError('UNKNOWN_LEADER_EPOCH', `leader epoch ${requestLeaderEpoch} is newer than ${this.leaderEpoch}`, {
        leaderEpoch: this.leaderEpoch,
      });
    }
  }

  /**
   * Records a follower's fetch: its log-end offset is the fetch offset. Validation follows
   * Kafka's Partition.fetchRecords for a fetch that carries its leader epoch: a stale or
   * future epoch is refused, a replica outside the assignment gets UNKNOWN_LEADER_EPOCH (the
   * pair of replica and epoch is not known yet, e.g. during a reassignment, so it retries),
   * and a fetch offset past the leader's log end is OFFSET_OUT_OF_RANGE. Offsets below the log
   * start are the log's to refuse when the broker reads.
   *
   * Caught-up time, as Kafka's Replica.updateFetchStateOrThrow: a fetch at the leader's current
   * log end means caught up now; a fetch at or past the leader's log end as of the previous
   * fetch means caught up as of that previous fetch.
   */
  onFollowerFetch(fetch: FollowerFetch): HighWatermarkUpdate {
    assert(Number.isFinite(fetch.nowMs), 'fetch time must be a finite number of milliseconds');
    this.checkLeaderEpoch(fetch.leaderEpoch);
    const progress = this.followers.get(fetch.followerId);
    if (progress === undefined) {
      throw new RivuletError('UNKNOWN_LEADER_EPOCH', `replica ${fetch.followerId} is not a follower of this partition in leader epoch ${this.leaderEpoch}`, {
        leaderEpoch: this.leaderEpoch,
        nodeId: fetch.followerId,
      });
    }
    if (!Number.isSafeInteger(fetch.fetchOffset) || fetch.fetchOffset < 0 || fetch.fetchOffset > this.logEndOffsetValue) {
      throw new RivuletError('OFFSET_OUT_OF_RANGE', `fetch offset ${fetch.fetchOffset} is past the leader's log end ${this.logEndOffsetValue}`, {
        offset: fetch.fetchOffset,
        nodeId: fetch.followerId,
      });
    }
    if (!Number.isSafeInteger(fetch.followerLogStartOffset) || fetch.followerLogStartOffset < UNKNOWN_OFFSET) {
      throw new RivuletError('INVALID_REQUEST', `follower log start offset ${fetch.followerLogStartOffset} is not an offset`, { nodeId: fetch.followerId });
    }
    const leaderLogEndOffset = this.logEndOffsetValue;
    if (fetch.fetchOffset >= leaderLogEndOffset) {
      progress.lastCaughtUpTimeMs = Math.max(progress.lastCaughtUpTimeMs, fetch.nowMs);
    } else if (progress.lastFetchTimeMs !== undefined && fetch.fetchOffset >= progress.lastFetchLeaderLogEndOffset) {
      progress.lastCaughtUpTimeMs = Math.max(progress.lastCaughtUpTimeMs, progress.lastFetchTimeMs);
    }
    progress.logEndOffset = fetch.fetchOffset;
    progress.logStartOffset = fetch.followerLogStartOffset;
    progress.lastFetchLeaderLogEndOffset = Math.max(progress.lastFetchLeaderLogEndOffset, leaderLogEndOffset);
    progress.lastFetchTimeMs = fetch.nowMs;
    return this.maybeAdvanceHighWatermark();
  }

  /** The leader appended records: its log now ends at `newLogEndOffset`. */
  onLeaderAppend(newLogEndOffset: number): HighWatermarkUpdate {
    assertSafeUint(newLogEndOffset, 'leader log-end offset');
    assert(newLogEndOffset >= this.logEndOffsetValue, `the leader's log-end offset went back from ${this.logEndOffsetValue} to ${newLogEndOffset}`);
    this.logEndOffsetValue = newLogEndOffset;
    return this.maybeAdvanceHighWatermark();
  }

  /**
   * The ISR change this leader wants now, or undefined; a query without side effects (the
   * broker calls `proposeIsrChange` to send it). None while a change is pending or after
   * fencing. A shrink comes first: ISR members other than the leader that are not caught up,
   * i.e. whose log end differs from the leader's and who have not caught up within
   * replica.lag.time.max.ms. Otherwise an expansion: followers outside the ISR, eligible,
   * whose log end is at or past both the high watermark and the start of this leader epoch
   * (so they hold every committed record, including those of the previous leader).
   */
  isrChangeWanted(nowMs: number, isReplicaIsrEligible: ReplicaIsrEligibility = everyReplicaEligible): AlterPartitionProposal | undefined {
    assert(Number.isFinite(nowMs), 'nowMs must be a finite number of milliseconds');
    if (this.isFencedValue || this.pending !== undefined) return undefined;
    const outOfSync = this.committedIsr.filter((replicaId) => replicaId !== this.leaderId && !this.isCaughtUp(replicaId, nowMs));
    if (outOfSync.length > 0) {
      return this.proposal('shrink', this.committedIsr.filter((replicaId) => !outOfSync.includes(replicaId)), outOfSync);
    }
    const joining = [...this.followers.values()]
      .filter((progress) => !this.committedIsr.includes(progress.followerId))
      .filter((progress) => progress.logEndOffset >= this.highWatermarkValue && progress.logEndOffset >= this.leaderEpochStartOffset)
      .map((progress) => progress.followerId)
      .filter((replicaId) => isReplicaIsrEligible(replicaId));
    if (joining.length > 0) {
      return this.proposal('expand', [...this.committedIsr, ...joining], joining);
    }
    return undefined;
  }

  /**
   * Takes the wanted ISR change and marks it pending: the broker must send it to the
   * controller as AlterPartition, and report the answer with `onIsrChangeCommitted` or
   * `onIsrChangeRejected`.
   */
  proposeIsrChange(nowMs: number, isReplicaIsrEligible: ReplicaIsrEligibility = everyReplicaEligible): AlterPartitionProposal | undefined {
    const proposal = this.isrChangeWanted(nowMs, isReplicaIsrEligible);
    if (proposal === undefined) return undefined;
    assert(this.pending === undefined, 'at most one AlterPartition is in flight');
    this.pending = proposal;
    this.isPendingAwaitingMetadata = false;
    return proposal;
  }

  /**
   * The controller committed partition state `(newIsr, newPartitionEpoch)` in this leader
   * epoch: the answer to our AlterPartition, or a change the controller made itself (e.g.
   * removing a fenced broker) seen in the metadata log. A newer partition epoch is the truth
   * and ends any pending change: if it is not our proposal's outcome, the controller has moved
   * past the epoch our proposal carries and will refuse it. An older or equal epoch (a late
   * response, or the metadata record of a response already applied) changes nothing.
   *
   * `leaderEpoch` is the leader epoch the answer carries (the AlterPartition response has
   * one). An older one is a stale answer and ignored; a newer one means the partition was
   * given a new leader epoch, so this state is obsolete: it fences itself, and the broker
   * builds the new leader or follower state from metadata.
   */
  onIsrChangeCommitted(
    newIsr: readonly number[],
    newPartitionEpoch: number,
    leaderEpoch: number = this.leaderEpoch,
  ): HighWatermarkUpdate & { readonly isApplied: boolean } {
    assertSafeUint(newPartitionEpoch, 'partition epoch');
    assertSafeUint(leaderEpoch, 'leader epoch');
    const unchanged = { highWatermark: this.highWatermarkValue, isHighWatermarkAdvanced: false, isApplied: false };
    if (leaderEpoch > this.leaderEpoch) this.isFencedValue = true;
    if (this.isFencedValue || leaderEpoch < this.leaderEpoch || newPartitionEpoch < this.partitionEpochValue) return unchanged;
    const isr = sortedIds(newIsr);
    validateIsr(isr, this.replicas, this.leaderId);
    if (newPartitionEpoch === this.partitionEpochValue) {
      assert(sameIds(isr, this.committedIsr), `partition epoch ${newPartitionEpoch} names two ISRs: [${this.committedIsr}] and [${isr}]`);
      return unchanged;
    }
    this.committedIsr = isr;
    this.partitionEpochValue = newPartitionEpoch;
    this.pending = undefined;
    this.isPendingAwaitingMetadata = false;
    return { ...this.maybeAdvanceHighWatermark(), isApplied: true };
  }

  /**
   * The controller refused `answeredProposal` with `errorCode`; see IsrChangeRejection. An
   * answer to a proposal that is no longer pending (a newer partition state replaced it) is
   * `ignored`: acting on it could drop a later proposal that is still in flight.
   */
  onIsrChangeRejected(errorCode: number, answeredProposal: AlterPartitionProposal): IsrChangeRejection | 'ignored' {
    const rejection = classifyIsrChangeRejection(errorCode);
    if (this.isFencedValue || this.pending === undefined || !sameProposal(this.pending, answeredProposal)) return 'ignored';
    switch (rejection) {
      case 'retry':
        break;
      case 'reset':
        this.pending = undefined;
        this.isPendingAwaitingMetadata = false;
        break;
      case 'await-metadata':
        this.isPendingAwaitingMetadata = true;
        break;
      case 'fenced':
        this.isFencedValue = true;
        break;
      default:
        unreachable(rejection);
    }
    return rejection;
  }

  /** True while the pending change waits for metadata instead of a resend. */
  get isAwaitingMetadata(): boolean {
    return this.isPendingAwaitingMetadata;
  }

  /**
   * Checks an acks=all produce before the append, as Kafka's appendRecordsToLeader: refused
   * with NOT_ENOUGH_REPLICAS while the committed ISR is smaller than min.insync.replicas, and
   * with NOT_LEADER_OR_FOLLOWER once fenced.
   */
  checkEnoughReplicasForAppend(): void {
    if (this.isFencedValue) {
      throw new RivuletError('NOT_LEADER_OR_FOLLOWER', 'this broker is no longer the leader of the partition', { leaderEpoch: this.leaderEpoch });
    }
    if (this.committedIsr.length < this.minInsyncReplicas) {
      throw new RivuletError(
        'NOT_ENOUGH_REPLICAS',
        `the ISR [${this.committedIsr}] is smaller than min.insync.replicas ${this.minInsyncReplicas}`,
        { leaderEpoch: this.leaderEpoch },
      );
    }
  }

  /** True when the record at `offset` is below the high watermark: every maximal-ISR member has it. */
  isCommitted(offset: number): boolean {
    assertSafeUint(offset, 'offset');
    return this.highWatermarkValue > offset;
  }

  /**
   * Whether an acks=all write ending at `lastOffset` is done, as Kafka's
   * checkEnoughReplicasReachOffset: not until the high watermark passes it; then successful if
   * the maximal ISR still has min.insync.replicas members (each holds the batch, since each
   * log end is at or past the high watermark), else NOT_ENOUGH_REPLICAS_AFTER_APPEND: written,
   * but to fewer replicas than required. Before the high watermark passes it, a fenced leader
   * answers NOT_LEADER_OR_FOLLOWER: the batch may be truncated by the new leader.
   */
  acksAllCompletion(lastOffset: number): AcksAllCompletion {
    assertSafeUint(lastOffset, 'last offset');
    assert(lastOffset < this.logEndOffsetValue, `offset ${lastOffset} was never appended (log end ${this.logEndOffsetValue})`);
    if (this.isCommitted(lastOffset)) {
      const maximalIsrSize = this.maximalIsr.length;
      if (maximalIsrSize >= this.minInsyncReplicas) return { isDone: true, error: undefined };
      const error = new RivuletError(
        'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
        `the ISR shrank to ${maximalIsrSize}, below min.insync.replicas ${this.minInsyncReplicas}, before offset ${lastOffset} committed`,
        { offset: lastOffset, leaderEpoch: this.leaderEpoch },
      );
      return { isDone: true, error };
    }
    if (this.isFencedValue) {
      const error = new RivuletError('NOT_LEADER_OR_FOLLOWER', 'leadership was lost before the write committed', { offset: lastOffset, leaderEpoch: this.leaderEpoch });
      return { isDone: true, error };
    }
    return { isDone: false };
  }

  /** Kafka's ReplicaState.isCaughtUp: at the leader's log end, or caught up within the lag limit. */
  private isCaughtUp(followerId: number, nowMs: number): boolean {
    const progress = this.followers.get(followerId);
    assert(progress !== undefined, `ISR member ${followerId} is not a follower`);
    return progress.logEndOffset === this.logEndOffsetValue || nowMs - progress.lastCaughtUpTimeMs <= this.replicaLagTimeMaxMs;
  }

  private proposal(kind: AlterPartitionProposal['kind'], newIsr: readonly number[], changedReplicaIds: readonly number[]): AlterPartitionProposal {
    const isr = sortedIds(newIsr);
    validateIsr(isr, this.replicas, this.leaderId);
    assert(!sameIds(isr, this.committedIsr), 'a proposal changes the ISR');
    return {
      kind,
      leaderId: this.leaderId,
      leaderEpoch: this.leaderEpoch,
      partitionEpoch: this.partitionEpochValue,
      newIsr: isr,
      changedReplicaIds: sortedIds(changedReplicaIds),
    };
  }

  /**
   * The high watermark is the smallest log end over the maximal ISR (the leader included), and
   * never moves back. A member that has not fetched in this epoch (UNKNOWN_OFFSET) holds it
   * where it is, as in Kafka: a new leader's high watermark waits for its ISR's first fetches.
   */
  private maybeAdvanceHighWatermark(): HighWatermarkUpdate {
    let candidate = this.logEndOffsetValue;
    for (const replicaId of this.maximalIsr) {
      if (replicaId === this.leaderId) continue;
      const progress = this.followers.get(replicaId);
      assert(progress !== undefined, `maximal-ISR member ${replicaId} is not a follower`);
      candidate = Math.min(candidate, progress.logEndOffset);
    }
    const previous = this.highWatermarkValue;
    if (candidate > previous) this.highWatermarkValue = candidate;
    assert(this.highWatermarkValue <= this.logEndOffsetValue, 'the high watermark is at most the leader log end');
    return { highWatermark: this.highWatermarkValue, isHighWatermarkAdvanced: this.highWatermarkValue > previous };
  }
}

interface FollowerProgressState {
  followerId: number;
  logEndOffset: number;
  logStartOffset: number;
  lastFetchTimeMs: number | undefined;
  lastFetchLeaderLogEndOffset: number;
  lastCaughtUpTimeMs: number;
}

function sortedIds(ids: readonly number[]): readonly number[] {
  return [...ids].sort((a, b) => a - b);
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

function sameProposal(a: AlterPartitionProposal, b: AlterPartitionProposal): boolean {
  return a.leaderEpoch === b.leaderEpoch && a.partitionEpoch === b.partitionEpoch && sameIds(a.newIsr, b.newIsr);
}

function validateIsr(sortedIsr: readonly number[], replicas: readonly number[], leaderId: number): void {
  assert(sortedIsr.includes(leaderId), `the ISR [${sortedIsr}] must contain the leader ${leaderId}`);
  assert(new Set(sortedIsr).size === sortedIsr.length, `the ISR [${sortedIsr}] has duplicates`);
  assert(sortedIsr.every((id) => replicas.includes(id)), `the ISR [${sortedIsr}] is not a subset of the replicas [${replicas}]`);
}

function validateConfig(config: LeaderPartitionConfig): void {
  assertSafeUint(config.leaderId, 'leader id');
  assertSafeUint(config.leaderEpoch, 'leader epoch');
  assertSafeUint(config.partitionEpoch, 'partition epoch');
  assertSafeUint(config.logEndOffset, 'log-end offset');
  assertSafeUint(config.highWatermark, 'high watermark');
  assert(config.highWatermark <= config.logEndOffset, `high watermark ${config.highWatermark} is past the log end ${config.logEndOffset}`);
  if (config.leaderEpochStartOffset !== undefined) {
    assertSafeUint(config.leaderEpochStartOffset, 'leader epoch start offset');
    assert(config.leaderEpochStartOffset <= config.logEndOffset, 'the leader epoch starts at or before the log end');
  }
  assert(config.replicas.every((id) => Number.isSafeInteger(id) && id >= 0), `replica ids [${config.replicas}] must be non-negative integers`);
  assert(new Set(config.replicas).size === config.replicas.length, `the replicas [${config.replicas}] have duplicates`);
  assert(config.replicas.includes(config.leaderId), `the leader ${config.leaderId} is not a replica`);
  validateIsr(sortedIds(config.isr), config.replicas, config.leaderId);
  assert(Number.isSafeInteger(config.replicaLagTimeMaxMs) && config.replicaLagTimeMaxMs > 0, 'replica.lag.time.max.ms must be a positive integer');
  assert(Number.isSafeInteger(config.minInsyncReplicas) && config.minInsyncReplicas >= 1, 'min.insync.replicas must be at least 1');
  assert(Number.isFinite(config.nowMs), 'nowMs must be a finite number of milliseconds');
}
