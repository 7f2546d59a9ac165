import { RivuletError, type Logger } from '@rivulet/common';
import type { clientApi } from '@rivulet/proto';
import { backoffDelayMs, sleep, type BackoffPolicy } from '../backoff.js';
import { RivuletAggregateError, toRivuletError, type OperationFailure } from '../errors.js';
import { tpKey, type TopicPartitionRef } from '../types.js';
import type { CoordinatorLink } from './coordinator-link.js';

/** An offset to commit: the offset of the next record to consume, as Kafka commits it. */
export interface OffsetToCommit extends TopicPartitionRef {
  readonly offset: number;
  /** A string stored with the offset (Kafka's OffsetAndMetadata.metadata). */
  readonly metadata?: string;
  /** The leader epoch of the last record consumed, when known. */
  readonly leaderEpoch?: number;
}

export interface CommittedOffset extends TopicPartitionRef {
  /** -1 when the group has committed nothing for the partition. */
  readonly offset: number;
  readonly metadata: string;
  readonly leaderEpoch: number;
}

/** Who commits: a group member's generation, or generation -1 with no member id for a consumer outside group management. */
export interface CommitterIdentity {
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export const NO_GENERATION: CommitterIdentity = { generationId: -1, memberId: '', groupInstanceId: null };

/** Answers that refuse a commit because of who sent it, not of what: the membership must act on them. */
const MEMBERSHIP_REJECTIONS: ReadonlySet<string> = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

export interface GroupOffsetsOptions {
  readonly groupId: string;
  readonly requestTimeoutMs: number;
  readonly backoff: BackoffPolicy;
  readonly logger: Logger;
  /** The identity commits are sent with, read when each is sent. */
  readonly identity: () => CommitterIdentity;
  /** Told when the coordinator refused a commit sent as `identity` for a membership reason. */
  readonly onMembershipRejection: (error: RivuletError, identity: CommitterIdentity) => void;
}

interface PendingCommit {
  readonly offsets: Map<string, OffsetToCommit>;
  readonly sent: Promise<void>;
}

/**
 * Committing and fetching a group's offsets at its coordinator. One commit is in flight at a
 * time; commits asked for meanwhile are merged into one pending commit (a later offset of a
 * partition replaces an earlier one), which is sent once the one in flight is answered, and
 * all their callers get its outcome. So at most one request is in flight and one waits.
 */
export class GroupOffsets {
  private tail: Promise<void> = Promise.resolve();
  private pending: PendingCommit | undefined;

  constructor(
    private readonly link: CoordinatorLink,
    private readonly options: GroupOffsetsOptions,
  ) {}

  /** Whether a commit is waiting for the one in flight (an automatic commit then has nothing to add). */
  get hasPendingCommit(): boolean {
    return this.pending !== undefined;
  }

  commit(offsets: readonly OffsetToCommit[], deadlineMs: number): Promise<void> {
    checkOffsetsToCommit(offsets);
    let pending = this.pending;
    if (pending === undefined) {
      const merged = new Map<string, OffsetToCommit>();
      const sent = this.tail.then(() => {
        this.pending = undefined;
        return this.send([...merged.values()], deadlineMs);
      });
      this.tail = sent.catch(() => undefined);
      pending = this.pending = { offsets: merged, sent };
    }
    for (const o of offsets) pending.offsets.set(tpKey(o.topic, o.partition), o);
    return pending.sent;
  }

  /**
   * The group's committed offsets of `partitions`. Retriable failures (the coordinator moving or
   * loading) are retried with backoff until `deadlineMs` or until `signal` aborts.
   */
  async fetch(partitions: readonly TopicPartitionRef[], deadlineMs: number, signal?: AbortSignal): Promise<Map<string, CommittedOffset>> {
    const byTopic = new Map<string, number[]>();
    for (const tp of partitions) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
    const request: clientApi.OffsetFetchRequest = {
      groupId: this.options.groupId,
      topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
      requireStable: false,
    };
    for (let attempt = 1; ; attempt++) {
      let error: RivuletError;
      try {
        const transport = await this.link.transport(deadlineMs, signal);
        const response = await transport.offsetFetch(request, this.options.requestTimeoutMs);
        if (response.errorCode !== 0) throw RivuletError.fromCode(response.errorCode, `OffsetFetch for group ${this.options.groupId}`);
        const failed = response.topics.flatMap((t) => t.partitions.filter((p) => p.errorCode !== 0).map((p) => ({ topic: t.name, partition: p.partitionIndex, code: p.errorCode })));
        const firstFailure = failed[0];
        if (firstFailure !== undefined) throw RivuletError.fromCode(firstFailure.code, `OffsetFetch of ${firstFailure.topic}-${firstFailure.partition} for group ${this.options.groupId}`, firstFailure);
        return committedOffsets(response);
      } catch (err) {
        error = toRivuletError(err);
      }
      this.link.noteFailure(error);
      const delayMs = backoffDelayMs(this.options.backoff, attempt);
      if (!error.retriable || signal?.aborted === true || Date.now() + delayMs >= deadlineMs) throw error;
      await sleep(delayMs, signal);
    }
  }

  private async send(offsets: readonly OffsetToCommit[], deadlineMs: number): Promise<void> {
    let remaining = offsets;
    for (let attempt = 1; remaining.length > 0; attempt++) {
      const identity = this.options.identity();
      const failures: OperationFailure[] = [];
      try {
        const transport = await this.link.transport(deadlineMs);
        const response = await transport.offsetCommit(offsetCommitRequest(this.options.groupId, remaining, identity), this.options.requestTimeoutMs);
        for (const topic of response.topics) {
          for (const p of topic.partitions) {
            if (p.errorCode !== 0) failures.push({ topic: topic.name, partition: p.partitionIndex, error: RivuletError.fromCode(p.errorCode, undefined, { topic: topic.name, partition: p.partitionIndex }) });
          }
        }
      } catch (err) {
        const error = toRivuletError(err);
        failures.push(...remaining.map((o) => ({ topic: o.topic, partition: o.partition, error })));
      }
      const rejection = failures.find((f) => MEMBERSHIP_REJECTIONS.has(f.error.errorName));
      if (rejection !== undefined) {
        this.options.onMembershipRejection(rejection.error, identity);
        throw RivuletError.fromCode(rejection.error.code, `commit for group ${this.options.groupId} refused: ${rejection.error.message}`);
      }
      for (const failure of failures) this.link.noteFailure(failure.error);
      const delayMs = backoffDelayMs(this.options.backoff, attempt);
      if (failures.some((f) => !f.error.retriable) || (failures.length > 0 && Date.now() + delayMs >= deadlineMs)) {
        throw new RivuletAggregateError('commit offsets', failures);
      }
      const failed = new Set(failures.map((f) => tpKey(f.topic, f.partition!)));
      remaining = remaining.filter((o) => failed.has(tpKey(o.topic, o.partition)));
      if (remaining.length > 0) {
        this.options.logger.debug({ groupId: this.options.groupId, failures: failures.map((f) => f.error.errorName), attempt }, 'offset commit failed, retrying');
        await sleep(delayMs);
      }
    }
  }
}

/** Refuses offsets that cannot be committed: each must be a non-negative integer. */
export function checkOffsetsToCommit(offsets: readonly OffsetToCommit[]): void {
  for (const o of offsets) {
    if (!Number.isSafeInteger(o.offset) || o.offset < 0) throw new RivuletError('INVALID_REQUEST', `offset to commit for ${o.topic}-${o.partition} must be a non-negative integer, got ${o.offset}`);
  }
}

/** The OffsetCommit request committing `offsets` to `groupId` as `identity`. */
export function offsetCommitRequest(groupId: string, offsets: readonly OffsetToCommit[], identity: CommitterIdentity): clientApi.OffsetCommitRequest {
  const byTopic = new Map<string, clientApi.OffsetCommitPartition[]>();
  for (const o of offsets) {
    const partition = { partitionIndex: o.partition, committedOffset: o.offset, committedLeaderEpoch: o.leaderEpoch ?? -1, committedMetadata: o.metadata ?? '' };
    byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), partition]);
  }
  return {
    groupId,
    generationId: identity.generationId,
    memberId: identity.memberId,
    groupInstanceId: identity.groupInstanceId ?? '',
    retentionTimeMs: -1,
    topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
  };
}

function committedOffsets(response: clientApi.OffsetFetchResponse): Map<string, CommittedOffset> {
  const result = new Map<string, CommittedOffset>();
  for (const topic of response.topics) {
    for (const p of topic.partitions) {
      result.set(tpKey(topic.name, p.partitionIndex), {
        topic: topic.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        metadata: p.metadata,
        leaderEpoch: p.committedLeaderEpoch,
      });
    }
  }
  return result;
}
