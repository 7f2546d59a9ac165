import { RivuletError, type Logger } from '@rivulet/common';
import type { clientApi } from '@rivulet/proto';
import { decodeRecordBatch, lastOffsetOf, readBatchHeader, splitBatches } from '@rivulet/records';
import type { PartitionAssignor } from './assignors/assignor.js';
import { cooperativeStickyAssignor } from './assignors/cooperative-sticky.js';
import { rangeAssignor } from './assignors/range.js';
import { roundRobinAssignor } from './assignors/round-robin.js';
import { backoffDelayMs, type BackoffPolicy } from './backoff.js';
import type { Cluster } from './cluster.js';
import { resultError, toRivuletError } from './errors.js';
import { recordsFromBatches } from './fetched-records.js';
import { GroupMember, type TopicSubscription } from './group/group-member.js';
import type { CommittedOffset, OffsetToCommit } from './group/group-offsets.js';
import { Signal } from './signal.js';
import { tpKey, type ConsumerRecord, type TopicPartitionRef } from './types.js';

export type OffsetResetPolicy = 'earliest' | 'latest' | 'none';

/** Where `seek` moves a partition: an offset, either end of the log, or the first record at or after a time. */
export type SeekTarget = number | 'earliest' | 'latest' | { readonly timestampMs: number };

/** The assignors this client has, by their protocol names (the same as Kafka clients'). */
export type AssignorName = 'range' | 'roundrobin' | 'cooperative-sticky';

const ASSIGNORS_BY_NAME: Readonly<Record<AssignorName, PartitionAssignor>> = {
  range: rangeAssignor,
  roundrobin: roundRobinAssignor,
  'cooperative-sticky': cooperativeStickyAssignor,
};

/**
 * Told of the partitions a group rebalance gives and takes, as Kafka's ConsumerRebalanceListener.
 * The consumer waits for each call (they may be async); an error thrown by one reaches the
 * reader (the iterator or `run`) once the rebalance is done.
 */
export interface RebalanceListener {
  /** After every rebalance, with the partitions newly assigned (possibly none). A `seek` here wins over the committed offset. */
  onPartitionsAssigned?(partitions: TopicPartitionRef[]): Promise<void> | void;
  /**
   * Before partitions are given up, once their records in the application's hands are done. With
   * autoCommit their offsets are committed by then. Under the cooperative protocol this comes
   * after the rebalance that took them away, before the one that hands them to their new member:
   * autoCommit committed what was consumed of them before the rebalance (records consumed during
   * it are consumed again by their new member); without autoCommit, `commitOffsets` or `commit`
   * here still commits them, as with Kafka's consumer.
   */
  onPartitionsRevoked?(partitions: TopicPartitionRef[]): Promise<void> | void;
  /** Partitions the group may already have given to another member (this member missed a generation): nothing can be committed for them. Default: onPartitionsRevoked. */
  onPartitionsLost?(partitions: TopicPartitionRef[]): Promise<void> | void;
}

/** A group member's identity, for logs and for checking who consumes what. */
export interface ConsumerGroupMetadata {
  readonly groupId: string;
  /** '' until the first join. */
  readonly memberId: string;
  /** -1 until the first join, and after the coordinator forgot this member. */
  readonly generationId: number;
  readonly groupInstanceId: string | null;
}

export interface ConsumerOptions {
  /** What to do when a partition has no position (nor, with a groupId, a committed offset), or its position left the log. Default 'latest', as in Kafka. */
  readonly autoOffsetReset?: OffsetResetPolicy;
  /** How long the broker may hold a fetch waiting for fetchMinBytes. Default 500. */
  readonly fetchMaxWaitMs?: number;
  /** Default 1: answer as soon as anything is there. */
  readonly fetchMinBytes?: number;
  /** Per fetch request. Default 50 MiB. */
  readonly fetchMaxBytes?: number;
  /** Per partition per fetch request. Default 1 MiB. */
  readonly maxPartitionFetchBytes?: number;
  /** Fetched bytes held for the application; no new fetch starts while more are buffered. Default 16 MiB. */
  readonly maxPrefetchBytes?: number;
  /**
   * Backoff of a partition after a fetch error; doubles per attempt up to retryBackoffMaxMs.
   * Default 100. Metadata naming a new leader (one that has not failed it since its last
   * answer) ends the backoff at once.
   */
  readonly retryBackoffMs?: number;
  readonly retryBackoffMaxMs?: number;
  readonly requestTimeoutMs?: number;
  /**
   * The consumer group to join with `subscribe`, and to commit offsets to. With `assign`, a
   * groupId gives the partitions their committed offsets as starting positions and lets the
   * consumer commit (outside group management, as Kafka's).
   */
  readonly groupId?: string;
  /** Static membership (KIP-345): a restart under the same id within the session timeout gets the same partitions, without a rebalance. */
  readonly groupInstanceId?: string;
  /** A member not heard from for this long is removed from the group. Default 45000 (Kafka 3). */
  readonly sessionTimeoutMs?: number;
  /**
   * How long the group waits for its members to rejoin in a rebalance, and how long a member
   * giving partitions up waits for their records in the application's hands (Kafka's
   * max.poll.interval.ms). Default 300000.
   */
  readonly rebalanceTimeoutMs?: number;
  /** Default 3000; keep it well below sessionTimeoutMs. */
  readonly heartbeatIntervalMs?: number;
  /**
   * Assignors in order of preference: names, or custom ones. Default ['cooperative-sticky']:
   * incremental cooperative rebalancing, where partitions that stay are consumed throughout.
   * With an eager-only assignor in the list (range, roundrobin) the member uses the eager
   * protocol: it gives every partition up at each rebalance, as Kafka's consumer does.
   */
  readonly partitionAssigners?: readonly (AssignorName | PartitionAssignor)[];
  /** Commit the offsets of consumed records every autoCommitIntervalMs, before giving partitions up, and on close. Default true. */
  readonly autoCommit?: boolean;
  readonly autoCommitIntervalMs?: number;
}

/** What the owning client lends a consumer. */
export interface ConsumerContext {
  readonly clientId: string;
  readonly requestTimeoutMs: number;
  /** How often a group member looks its subscription up again (new topics of a pattern, new partitions). */
  readonly metadataMaxAgeMs: number;
}

export interface RecordBatchView {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly ConsumerRecord[];
  /** The partition's high watermark when these records were fetched. */
  readonly highWatermark: number;
}

export interface RunHandlers {
  readonly eachRecord?: (record: ConsumerRecord) => Promise<void> | void;
  readonly eachBatch?: (batch: RecordBatchView) => Promise<void> | void;
}

export interface StreamOptions {
  /** End the iteration once every assigned, unpaused partition has been read up to its high watermark. */
  readonly stopAtEnd?: boolean;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Offset of the next record handed to the application. */
  position: number | undefined;
  /** Offset the next fetch asks for; ahead of `position` while fetched records are buffered. */
  fetchOffset: number | undefined;
  /** A lookup (ListOffsets) that must run before fetching. */
  pendingReset: Exclude<SeekTarget, number> | undefined;
  paused: boolean;
  /** Bumped by every seek, so answers to requests sent before it are dropped. */
  epoch: number;
  highWatermark: number | undefined;
  /** The fetch that last set highWatermark saw the partition at this fetch offset. */
  endCheckedAt: number | undefined;
  busy: boolean;
  attempts: number;
  retryAtMs: number;
  /**
   * The leaders that fetches or offset lookups of this partition failed against since it last
   * got an answer. While it backs off, metadata naming a live leader not among them ends the
   * backoff at once (the leader moved, as after a leader's death); one among them keeps it, so
   * that metadata going back and forth between failed leaders never makes a loop.
   */
  failedLeaders: number[];
  error: RivuletError | undefined;
  /** Offset of the first record in the application's hands (iterator body or handler running): commits stop there. */
  delivering: number | undefined;
  /** Being given up in a rebalance: no records handed out or fetched any more. */
  revoking: boolean;
  /** Waiting for the group's committed offset, which is where consumption starts. */
  awaitingCommitted: boolean;
  /** The offset last committed to the group for this partition, so unchanged ones are not committed again. */
  committedOffset: number | undefined;
}

/**
 * The whole batches of one partition from one fetch, queued for the application. They stay
 * raw bytes until read and are decoded one batch at a time, so the prefetch bound counts the
 * compact wire bytes and a large fetch of tiny records never becomes millions of objects at once.
 */
interface BufferedChunk {
  readonly state: PartitionState;
  readonly epoch: number;
  readonly batches: readonly Buffer[];
  /** Records below this offset (the start of a seek inside a batch) are skipped. */
  readonly fetchOffset: number;
  /** The offset after the last batch: the position once the chunk is read. */
  readonly endOffset: number;
  readonly highWatermark: number;
  readonly sizeBytes: number;
  nextBatch: number;
  /** The decoded records of the batch being read, and the next one to hand out. */
  records: ConsumerRecord[];
  next: number;
}

interface ResolvedConsumerOptions {
  readonly autoOffsetReset: OffsetResetPolicy;
  readonly fetchMaxWaitMs: number;
  readonly fetchMinBytes: number;
  readonly fetchMaxBytes: number;
  readonly maxPartitionFetchBytes: number;
  readonly maxPrefetchBytes: number;
  readonly backoff: BackoffPolicy;
  readonly requestTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly autoCommit: boolean;
  readonly autoCommitIntervalMs: number;
}

function resolveOptions(options: ConsumerOptions, requestTimeoutMs: number): ResolvedConsumerOptions {
  return {
    autoOffsetReset: options.autoOffsetReset ?? 'latest',
    fetchMaxWaitMs: options.fetchMaxWaitMs ?? 500,
    fetchMinBytes: options.fetchMinBytes ?? 1,
    fetchMaxBytes: options.fetchMaxBytes ?? 50 * 1024 * 1024,
    maxPartitionFetchBytes: options.maxPartitionFetchBytes ?? 1024 * 1024,
    maxPrefetchBytes: options.maxPrefetchBytes ?? 16 * 1024 * 1024,
    backoff: { initialMs: options.retryBackoffMs ?? 100, maxMs: options.retryBackoffMaxMs ?? 1000 },
    requestTimeoutMs: options.requestTimeoutMs ?? requestTimeoutMs,
    rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 300_000,
    autoCommit: options.autoCommit ?? true,
    autoCommitIntervalMs: options.autoCommitIntervalMs ?? 5_000,
  };
}

function resolveAssignors(assigners: readonly (AssignorName | PartitionAssignor)[]): PartitionAssignor[] {
  return assigners.map((a) => {
    if (typeof a !== 'string') return a;
    const assignor = ASSIGNORS_BY_NAME[a] as PartitionAssignor | undefined;
    if (assignor === undefined) throw new RivuletError('INVALID_CONFIG', `unknown partition assignor ${a}: use one of ${Object.keys(ASSIGNORS_BY_NAME).join(', ')}`);
    return assignor;
  });
}

function positiveOption(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RivuletError('INVALID_CONFIG', `${name} must be a positive integer, got ${value}`);
  return value;
}

const LIST_OFFSETS_LATEST = -1;
const LIST_OFFSETS_EARLIEST = -2;

/**
 * A consumer of partitions, assigned explicitly (`assign`) or by a consumer group
 * (`subscribe`, with `groupId`). It prefetches from every partition's leader in the
 * background, one fetch per broker at a time, while the buffered bytes stay under
 * `maxPrefetchBytes`, and hands records out in offset order per partition, through an async
 * iterator or `run`.
 *
 * A record counts as consumed, for commits, once the application is done with it: when the
 * iterator is asked for the next record (or left), or when the handler returns.
 */
export class Consumer implements AsyncIterable<ConsumerRecord> {
  private readonly options: ResolvedConsumerOptions;
  private readonly partitions = new Map<string, PartitionState>();
  private chunks: BufferedChunk[] = [];
  private bufferedBytes = 0;
  /** Bytes that fetches in flight may still add: each reserves its maxBytes so that together they respect maxPrefetchBytes. */
  private reservedBytes = 0;
  private readonly busyNodes = new Set<number>();
  private readonly changed = new Signal();
  /** Notified whenever the application is done with a record or batch. */
  private readonly deliveryDone = new Signal();
  private retryTimer: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private closed = false;
  /** Set by close; resolves once closing is done. */
  private closeDone: Promise<void> | undefined;
  /** Aborted by close: stops committed-offset lookups that are retrying. */
  private readonly closing = new AbortController();
  /** The group named by groupId; undefined without one. */
  private readonly group: GroupMember | undefined;
  private readonly groupId: string | undefined;
  private isSubscribed = false;
  private rebalanceListener: RebalanceListener = {};
  private autoCommitTimer: NodeJS.Timeout | undefined;
  /** The membership failed for good: every read throws it. */
  private fatalError: RivuletError | undefined;
  /** A rebalance listener threw: the next read throws it, once. */
  private listenerError: { readonly error: unknown } | undefined;
  /** Stops the metadata listener that lets a partition backing off retry at once at a new leader. */
  private readonly stopMetadataListener: () => void;

  constructor(
    private readonly cluster: Cluster,
    options: ConsumerOptions,
    context: ConsumerContext,
    private readonly logger: Logger,
    /** Tells the owning client this instance is closed and no longer needs closing. */
    private readonly onClosed: () => void = () => {},
  ) {
    this.options = resolveOptions(options, context.requestTimeoutMs);
    this.stopMetadataListener = cluster.onMetadataUpdate(() => this.schedulePump());
    if (options.groupId === undefined) return;
    if (options.groupId === '') throw new RivuletError('INVALID_GROUP_ID', 'groupId must not be empty');
    if (options.groupInstanceId === '') throw new RivuletError('INVALID_CONFIG', 'groupInstanceId must not be empty');
    const sessionTimeoutMs = positiveOption('sessionTimeoutMs', options.sessionTimeoutMs ?? 45_000);
    const heartbeatIntervalMs = positiveOption('heartbeatIntervalMs', options.heartbeatIntervalMs ?? 3_000);
    if (heartbeatIntervalMs >= sessionTimeoutMs) throw new RivuletError('INVALID_CONFIG', `heartbeatIntervalMs (${heartbeatIntervalMs}) must be below sessionTimeoutMs (${sessionTimeoutMs})`);
    positiveOption('autoCommitIntervalMs', this.options.autoCommitIntervalMs);
    this.groupId = options.groupId;
    this.group = new GroupMember(
      cluster,
      {
        groupId: options.groupId,
        groupInstanceId: options.groupInstanceId ?? null,
        clientId: context.clientId,
        sessionTimeoutMs,
        rebalanceTimeoutMs: positiveOption('rebalanceTimeoutMs', this.options.rebalanceTimeoutMs),
        heartbeatIntervalMs,
        assignors: resolveAssignors(options.partitionAssigners ?? ['cooperative-sticky']),
        requestTimeoutMs: this.options.requestTimeoutMs,
        backoff: this.options.backoff,
        metadataMaxAgeMs: context.metadataMaxAgeMs,
        logger,
      },
      {
        ownedPartitions: () => [...this.partitions.values()].map(({ topic, partition }) => ({ topic, partition })),
        revokePartitions: (partitions, commit) => this.giveUp(partitions, commit ? 'committed' : 'uncommitted', 'revoked'),
        losePartitions: (partitions) => this.giveUp(partitions, 'uncommitted', 'lost'),
        commitConsumed: () => this.commitConsumed(),
        assignPartitions: (partitions) => this.addAssigned(partitions),
        fail: (error) => {
          this.fatalError = error;
          this.changed.notify();
        },
      },
    );
  }

  /**
   * Joins the group (groupId) to consume `topics`, or every topic matching a pattern (checked
   * again every metadataMaxAgeMs); the group shares their partitions among its members. A
   * second call changes the subscription. `listener` hears of the partitions each rebalance
   * gives and takes.
   */
  subscribe(topics: TopicSubscription, listener: RebalanceListener = {}): void {
    const group = this.requireGroup('subscribe');
    if (this.closed) throw new RivuletError('INVALID_REQUEST', 'the consumer is closed');
    if (!this.isSubscribed && this.partitions.size > 0) throw new RivuletError('INVALID_REQUEST', 'this consumer has assigned partitions: assign and subscribe do not mix');
    if (!(topics instanceof RegExp) && topics.length === 0) throw new RivuletError('INVALID_REQUEST', 'subscribe to at least one topic');
    this.isSubscribed = true;
    this.rebalanceListener = listener;
    group.subscribe(topics);
    this.scheduleAutoCommit();
  }

  /** Replaces the assignment. Partitions kept keep their position; new ones start at the group's committed offset (with groupId), else per autoOffsetReset, unless seeked. */
  assign(partitions: readonly TopicPartitionRef[]): void {
    if (this.isSubscribed) throw new RivuletError('INVALID_REQUEST', 'this consumer subscribed to a group: the group assigns its partitions');
    const wanted = new Map(partitions.map((tp) => [tpKey(tp.topic, tp.partition), tp]));
    for (const [key, state] of this.partitions) {
      if (!wanted.has(key)) {
        this.partitions.delete(key);
        state.epoch++;
      }
    }
    const added: PartitionState[] = [];
    for (const [key, tp] of wanted) {
      if (this.partitions.has(key)) continue;
      const state = this.newState(tp);
      this.partitions.set(key, state);
      added.push(state);
    }
    this.dropStaleChunks();
    this.cluster.refreshMetadata(partitions.map((tp) => tp.topic)).catch((err: unknown) => {
      this.logger.warn({ err }, 'metadata refresh after assign failed; fetches will retry it');
    });
    if (this.group !== undefined && added.length > 0) this.lookUpCommitted(added);
    this.scheduleAutoCommit();
    this.schedulePump();
  }

  assignment(): TopicPartitionRef[] {
    return [...this.partitions.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  /** The member's group identity; undefined without a groupId. */
  groupMetadata(): ConsumerGroupMetadata | undefined {
    if (this.group === undefined || this.groupId === undefined) return undefined;
    return { groupId: this.groupId, memberId: this.group.memberId, generationId: this.group.generationId, groupInstanceId: this.group.groupInstanceId };
  }

  /**
   * Commits the offsets of every record consumed so far (see the class comment) to the group,
   * including those of partitions being revoked (in onPartitionsRevoked, as with Kafka's
   * consumer). During a rebalance it fails with REBALANCE_IN_PROGRESS, as Kafka's commitSync; a
   * member the group no longer knows gets ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID.
   */
  async commit(): Promise<void> {
    await this.commitNow(this.committable(this.heldStates(), false));
  }

  /**
   * Commits the given offsets (each the next offset to consume) to the group. A group member
   * commits only partitions it holds, those being revoked included (in onPartitionsRevoked):
   * the coordinator refuses others.
   */
  async commitOffsets(offsets: readonly OffsetToCommit[]): Promise<void> {
    if (this.isSubscribed) {
      const owned = new Set(this.heldStates().map((s) => tpKey(s.topic, s.partition)));
      const foreign = offsets.find((o) => !owned.has(tpKey(o.topic, o.partition)));
      if (foreign !== undefined) throw new RivuletError('INVALID_REQUEST', `${foreign.topic}-${foreign.partition} is not assigned to this member: it cannot commit its offset`, foreign);
    }
    await this.commitNow(offsets);
  }

  /** The group's committed offsets of `partitions` (offset -1: none). */
  async committed(partitions: readonly TopicPartitionRef[]): Promise<CommittedOffset[]> {
    const group = this.requireGroup('committed');
    const offsets = await group.offsets.fetch(partitions, Date.now() + this.options.requestTimeoutMs);
    return partitions.map((tp) => offsets.get(tpKey(tp.topic, tp.partition)) ?? { topic: tp.topic, partition: tp.partition, offset: -1, metadata: '', leaderEpoch: -1 });
  }

  /** Moves a partition: the next record returned is at the target. Buffered records of the partition are dropped. */
  seek(tp: TopicPartitionRef, target: SeekTarget): void {
    const state = this.stateOf(tp);
    state.epoch++;
    state.error = undefined;
    state.attempts = 0;
    state.retryAtMs = 0;
    state.failedLeaders = [];
    state.highWatermark = undefined;
    state.endCheckedAt = undefined;
    state.awaitingCommitted = false;
    if (typeof target === 'number') {
      if (!Number.isSafeInteger(target) || target < 0) throw new RivuletError('INVALID_REQUEST', `seek offset must be a non-negative integer, got ${target}`);
      state.position = target;
      state.fetchOffset = target;
      state.pendingReset = undefined;
    } else {
      state.position = undefined;
      state.fetchOffset = undefined;
      state.pendingReset = target;
    }
    this.dropStaleChunks();
    this.schedulePump();
  }

  /** The offset of the next record this consumer returns for the partition, or undefined while it is being looked up. */
  position(tp: TopicPartitionRef): number | undefined {
    return this.stateOf(tp).position;
  }

  /** The partition's high watermark as of the latest fetch, or undefined before one. */
  highWatermark(tp: TopicPartitionRef): number | undefined {
    return this.stateOf(tp).highWatermark;
  }

  /** Stops returning and fetching records of these partitions; buffered ones are kept for resume. */
  pause(partitions: readonly TopicPartitionRef[]): void {
    for (const tp of partitions) this.stateOf(tp).paused = true;
  }

  resume(partitions: readonly TopicPartitionRef[]): void {
    for (const tp of partitions) this.stateOf(tp).paused = false;
    this.changed.notify();
    this.schedulePump();
  }

  paused(): TopicPartitionRef[] {
    return [...this.partitions.values()].filter((s) => s.paused).map(({ topic, partition }) => ({ topic, partition }));
  }

  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    return this.stream()[Symbol.asyncIterator]();
  }

  /** The records as an async iterable; ends when the consumer closes (or at the end, with stopAtEnd). */
  async *stream(options: StreamOptions = {}): AsyncGenerator<ConsumerRecord, void, undefined> {
    for (;;) {
      const chunk = await this.nextChunk(options.stopAtEnd ?? false);
      if (chunk === undefined) return;
      // A pause or seek between two records takes effect at once; the rest of the chunk stays buffered.
      while (chunk.next < chunk.records.length && !chunk.state.paused && this.isDeliverable(chunk)) {
        const record = chunk.records[chunk.next++]!;
        chunk.state.position = record.offset + 1;
        // Release before yielding: a caller that breaks out of the loop never comes back here.
        if (chunk.next === chunk.records.length) this.releaseIfDone(chunk);
        chunk.state.delivering = record.offset;
        try {
          yield record;
        } finally {
          // Asked for the next record, or left the loop: the application is done with this one.
          this.finishDelivery(chunk.state);
        }
      }
      this.releaseIfDone(chunk);
    }
  }

  /** Calls the handlers until the consumer closes; rejects with the first handler or fetch error. */
  async run(handlers: RunHandlers & StreamOptions): Promise<void> {
    if (handlers.eachRecord === undefined && handlers.eachBatch === undefined) {
      throw new RivuletError('INVALID_REQUEST', 'run() needs eachRecord or eachBatch');
    }
    for (;;) {
      const chunk = await this.nextChunk(handlers.stopAtEnd ?? false);
      if (chunk === undefined) return;
      const records = chunk.records.slice(chunk.next);
      chunk.next = chunk.records.length;
      const state = chunk.state;
      state.delivering = records[0]!.offset;
      try {
        if (handlers.eachBatch !== undefined) {
          await handlers.eachBatch({ topic: state.topic, partition: state.partition, records, highWatermark: chunk.highWatermark });
        }
        if (handlers.eachRecord !== undefined) {
          for (const record of records) {
            if (!this.isDeliverable(chunk)) break;
            state.delivering = record.offset;
            await handlers.eachRecord(record);
            // A partition being revoked still counts what its handler finished, so that it is committed.
            if (this.isCurrent(chunk)) state.position = record.offset + 1;
          }
        } else if (this.isCurrent(chunk)) {
          state.position = records.at(-1)!.offset + 1;
        }
      } finally {
        this.finishDelivery(state);
      }
      this.releaseIfDone(chunk);
    }
  }

  /**
   * Stops fetching and ends iterators and run loops. A group member then commits what was
   * consumed (autoCommit; records still in the application's hands are not: the group hands
   * them out again), tells the listener its partitions are revoked, and leaves the group (a
   * static member stays, to come back within its session timeout).
   */
  close(): Promise<void> {
    this.closeDone ??= this.shutDown();
    return this.closeDone;
  }

  private async shutDown(): Promise<void> {
    this.onClosed();
    this.closed = true;
    this.closing.abort();
    this.stopMetadataListener();
    clearTimeout(this.retryTimer);
    clearTimeout(this.autoCommitTimer);
    this.chunks = [];
    this.bufferedBytes = 0;
    this.changed.notify();
    this.deliveryDone.notify();
    if (this.group !== undefined) await this.closeMembership(this.group);
  }

  private async closeMembership(group: GroupMember): Promise<void> {
    await group.stop();
    const owned = [...this.partitions.values()];
    if (this.options.autoCommit && (group.isStable || !this.isSubscribed) && this.fatalError === undefined) {
      await this.commitNow(this.committable(owned, true)).catch((err: unknown) => this.logger.warn({ err }, 'committing offsets on close failed'));
    }
    if (this.isSubscribed && owned.length > 0) {
      const partitions = owned.map(({ topic, partition }) => ({ topic, partition }));
      // A member the coordinator forgot, or fenced, no longer owns what it holds.
      await this.callListener(group.hasGeneration && this.fatalError === undefined ? 'revoked' : 'lost', partitions);
    }
    if (!this.isSubscribed) return;
    this.partitions.clear();
    await group.leave('the consumer is closing');
  }

  private requireGroup(operation: string): GroupMember {
    if (this.group === undefined) throw new RivuletError('INVALID_CONFIG', `${operation} needs a groupId in the consumer options`);
    return this.group;
  }

  /** What to commit for `states`: where the application is (see `delivering`); with `changedOnly`, not what is committed already. */
  private committable(states: readonly PartitionState[], changedOnly: boolean): OffsetToCommit[] {
    const offsets: OffsetToCommit[] = [];
    for (const state of states) {
      const offset = state.delivering ?? state.position;
      if (offset === undefined || state.awaitingCommitted) continue;
      if (changedOnly && offset === state.committedOffset) continue;
      offsets.push({ topic: state.topic, partition: state.partition, offset });
    }
    return offsets;
  }

  private async commitNow(offsets: readonly OffsetToCommit[]): Promise<void> {
    const group = this.requireGroup('commit');
    if (offsets.length === 0) return;
    await group.offsets.commit(offsets, Date.now() + this.options.requestTimeoutMs);
    for (const o of offsets) {
      const state = this.partitions.get(tpKey(o.topic, o.partition));
      if (state !== undefined) state.committedOffset = o.offset;
    }
  }

  private scheduleAutoCommit(): void {
    clearTimeout(this.autoCommitTimer);
    if (this.group === undefined || !this.options.autoCommit || this.closed) return;
    this.autoCommitTimer = setTimeout(() => void this.autoCommit(), this.options.autoCommitIntervalMs);
    this.autoCommitTimer.unref();
  }

  /** Kafka's auto commit, on a timer: skipped during a rebalance and while a commit waits already. */
  private async autoCommit(): Promise<void> {
    try {
      if (this.group === undefined || (this.isSubscribed && !this.group.isStable) || this.group.offsets.hasPendingCommit) return;
      await this.commitNow(this.committable(this.consumedStates(), true));
    } catch (err) {
      this.logger.warn({ err }, 'automatic offset commit failed');
    } finally {
      this.scheduleAutoCommit();
    }
  }

  /**
   * Gives partitions up in a rebalance: no more of their records are handed out; once the
   * application is done with those it holds (up to rebalanceTimeoutMs: Kafka's max poll
   * interval), their offsets are committed (autoCommit, when `commit` says they still can be)
   * and the listener told.
   */
  private async giveUp(partitions: readonly TopicPartitionRef[], commit: 'committed' | 'uncommitted', how: 'revoked' | 'lost'): Promise<void> {
    const states = partitions.map((tp) => this.partitions.get(tpKey(tp.topic, tp.partition))).filter((s): s is PartitionState => s !== undefined);
    for (const state of states) state.revoking = true;
    this.dropChunksOf(states);
    await this.waitForDeliveries(states);
    if (commit === 'committed' && this.options.autoCommit) {
      await this.commitNow(this.committable(states, true)).catch((err: unknown) => this.logger.warn({ err }, 'committing offsets of revoked partitions failed'));
    }
    await this.callListener(how, [...partitions]);
    for (const state of states) {
      if (this.partitions.get(tpKey(state.topic, state.partition)) !== state) continue;
      this.partitions.delete(tpKey(state.topic, state.partition));
      state.epoch++;
    }
    this.logger.info({ how, partitions: partitions.map((tp) => `${tp.topic}-${tp.partition}`) }, `partitions ${how}`);
  }

  /** Before a cooperative rejoin: what was consumed so far, while this generation can still commit it. */
  private async commitConsumed(): Promise<void> {
    if (!this.options.autoCommit) return;
    await this.commitNow(this.committable(this.consumedStates(), true)).catch((err: unknown) => this.logger.warn({ err }, 'committing offsets before rejoining failed'));
  }

  /** The partitions whose offsets this member commits on its own: not those being given up (see giveUp). */
  private consumedStates(): PartitionState[] {
    return [...this.partitions.values()].filter((s) => !s.revoking);
  }

  /**
   * The partitions the application may commit: every one this member holds, those being given
   * up too. Their revocation listener runs before the member rejoins, while no other member
   * holds them: the coordinator accepts those commits (under the cooperative protocol as
   * partitions of the member's previous assignment), so Kafka's pattern of committing in
   * onPartitionsRevoked works without autoCommit.
   */
  private heldStates(): PartitionState[] {
    return [...this.partitions.values()];
  }

  private async waitForDeliveries(states: readonly PartitionState[]): Promise<void> {
    const deadlineMs = Date.now() + this.options.rebalanceTimeoutMs;
    while (!this.closed && states.some((s) => s.delivering !== undefined)) {
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0) {
        this.logger.warn({ rebalanceTimeoutMs: this.options.rebalanceTimeoutMs }, 'records still in the application after the rebalance timeout; giving their partitions up without them');
        return;
      }
      await this.deliveryDone.waitAtMost(remainingMs);
    }
  }

  /** Starts consuming partitions the group assigned: from the committed offsets, once looked up, unless the listener seeks. */
  private async addAssigned(partitions: readonly TopicPartitionRef[]): Promise<void> {
    const added: PartitionState[] = [];
    for (const tp of partitions) {
      const state = this.newState(tp);
      this.partitions.set(tpKey(tp.topic, tp.partition), state);
      added.push(state);
    }
    if (added.length > 0) {
      this.cluster.refreshMetadata([...new Set(partitions.map((tp) => tp.topic))]).catch((err: unknown) => {
        this.logger.warn({ err }, 'metadata refresh after an assignment failed; fetches will retry it');
      });
      this.lookUpCommitted(added);
    }
    await this.callListener('assigned', [...partitions]);
    this.schedulePump();
  }

  /** Looks up where `states` start (retrying while the coordinator is unavailable); a partition seeked meanwhile keeps its seek. */
  private lookUpCommitted(states: readonly PartitionState[]): void {
    const group = this.requireGroup('lookUpCommitted');
    const epochs = states.map((s) => s.epoch);
    for (const state of states) state.awaitingCommitted = true;
    group.offsets
      .fetch(states, Number.POSITIVE_INFINITY, this.closing.signal)
      .then((committed) => {
        states.forEach((state, i) => {
          if (state.epoch !== epochs[i] || !state.awaitingCommitted) return;
          state.awaitingCommitted = false;
          const offset = committed.get(tpKey(state.topic, state.partition))?.offset ?? -1;
          if (offset < 0) return;
          state.position = offset;
          state.fetchOffset = offset;
          state.committedOffset = offset;
        });
      })
      .catch((err: unknown) => {
        if (this.closed) return;
        // Only a group the coordinator refuses outright gets here (retriable failures are retried).
        this.fatalError = toRivuletError(err);
        this.changed.notify();
      })
      .finally(() => this.schedulePump());
  }

  private async callListener(what: 'assigned' | 'revoked' | 'lost', partitions: TopicPartitionRef[]): Promise<void> {
    const listener = this.rebalanceListener;
    try {
      if (what === 'assigned') await listener.onPartitionsAssigned?.(partitions);
      else if (what === 'revoked' || listener.onPartitionsLost === undefined) await listener.onPartitionsRevoked?.(partitions);
      else await listener.onPartitionsLost(partitions);
    } catch (error) {
      this.logger.warn({ err: error, what }, 'the rebalance listener threw');
      this.listenerError ??= { error };
      this.changed.notify();
    }
  }

  /** The application is done with what it held of `state`. */
  private finishDelivery(state: PartitionState): void {
    state.delivering = undefined;
    this.deliveryDone.notify();
  }

  private newState(tp: TopicPartitionRef): PartitionState {
    if (!Number.isInteger(tp.partition) || tp.partition < 0) throw new RivuletError('INVALID_REQUEST', `invalid partition ${tp.partition}`);
    return {
      topic: tp.topic,
      partition: tp.partition,
      position: undefined,
      fetchOffset: undefined,
      pendingReset: undefined,
      paused: false,
      epoch: 0,
      highWatermark: undefined,
      endCheckedAt: undefined,
      busy: false,
      attempts: 0,
      retryAtMs: 0,
      failedLeaders: [],
      error: undefined,
      delivering: undefined,
      revoking: false,
      awaitingCommitted: false,
      committedOffset: undefined,
    };
  }

  private stateOf(tp: TopicPartitionRef): PartitionState {
    const state = this.partitions.get(tpKey(tp.topic, tp.partition));
    if (state === undefined) throw new RivuletError('INVALID_REQUEST', `${tp.topic}-${tp.partition} is not assigned to this consumer`, tp);
    return state;
  }

  private hasUnread(chunk: BufferedChunk): boolean {
    return chunk.next < chunk.records.length || chunk.nextBatch < chunk.batches.length;
  }

  /** Decodes batches until the chunk has records to hand out; false when it has none left. */
  private async fill(chunk: BufferedChunk): Promise<boolean> {
    while (chunk.next >= chunk.records.length && chunk.nextBatch < chunk.batches.length) {
      const raw = chunk.batches[chunk.nextBatch++]!;
      let decoded;
      try {
        decoded = await decodeRecordBatch(raw);
      } catch (err) {
        const error = toRivuletError(err);
        throw new RivuletError(error.errorName === 'UNKNOWN' ? 'CORRUPT_MESSAGE' : error.errorName, `${chunk.state.topic}-${chunk.state.partition}: ${error.message}`, {
          topic: chunk.state.topic,
          partition: chunk.state.partition,
        });
      }
      chunk.records = recordsFromBatches(chunk.state.topic, chunk.state.partition, chunk.fetchOffset, [decoded]).records;
      chunk.next = 0;
    }
    return chunk.next < chunk.records.length;
  }

  /** The chunk's partition is still consumed from where the chunk was fetched (no seek, not dropped). */
  private isCurrent(chunk: BufferedChunk): boolean {
    return !this.closed && chunk.epoch === chunk.state.epoch && this.partitions.get(tpKey(chunk.state.topic, chunk.state.partition)) === chunk.state;
  }

  /** The chunk's records may be handed to the application: current, and its partition not being given up. */
  private isDeliverable(chunk: BufferedChunk): boolean {
    return this.isCurrent(chunk) && !chunk.state.revoking;
  }

  /** Waits for the next chunk with records the application may see now; undefined when the iteration ends. */
  private async nextChunk(stopAtEnd: boolean): Promise<BufferedChunk | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      this.throwGroupError();
      this.throwPartitionError();
      const chunk = this.chunks.find((c) => !c.state.paused && this.hasUnread(c) && this.isDeliverable(c));
      if (chunk !== undefined) {
        if ((await this.fill(chunk)) && this.isDeliverable(chunk)) return chunk;
        this.releaseIfDone(chunk);
        continue;
      }
      if (stopAtEnd && this.allAtEnd()) return undefined;
      this.schedulePump();
      await this.changed.wait();
    }
  }

  private throwGroupError(): void {
    if (this.fatalError !== undefined) throw this.fatalError;
    const listenerError = this.listenerError;
    if (listenerError === undefined) return;
    this.listenerError = undefined;
    throw listenerError.error;
  }

  private throwPartitionError(): void {
    for (const state of this.partitions.values()) {
      if (state.error !== undefined && !state.paused) {
        const err = state.error;
        state.error = undefined;
        throw err;
      }
    }
  }

  private allAtEnd(): boolean {
    for (const state of this.partitions.values()) {
      if (state.paused) continue;
      if (state.position === undefined || state.highWatermark === undefined || state.endCheckedAt === undefined) return false;
      if (state.position < state.highWatermark) return false;
    }
    return true;
  }

  private releaseIfDone(chunk: BufferedChunk): void {
    const current = this.isCurrent(chunk);
    if (current && this.hasUnread(chunk)) return;
    const index = this.chunks.indexOf(chunk);
    if (index < 0) return;
    this.chunks.splice(index, 1);
    this.bufferedBytes -= chunk.sizeBytes;
    // Skipped offsets at the end (control batches, compacted gaps) still count as read.
    if (current && chunk.state.position !== undefined) chunk.state.position = Math.max(chunk.state.position, chunk.endOffset);
    this.schedulePump();
  }

  private dropStaleChunks(): void {
    this.dropChunks((c) => !this.isCurrent(c));
  }

  private dropChunksOf(states: readonly PartitionState[]): void {
    this.dropChunks((c) => states.includes(c.state));
  }

  private dropChunks(isDropped: (chunk: BufferedChunk) => boolean): void {
    const kept = this.chunks.filter((c) => !isDropped(c));
    for (const chunk of this.chunks) if (!kept.includes(chunk)) this.bufferedBytes -= chunk.sizeBytes;
    this.chunks = kept;
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Starts every offset lookup and fetch that may start now. */
  private pump(): void {
    if (this.closed) return;
    const nowMs = Date.now();
    const resets = new Map<number, PartitionState[]>();
    const fetches = new Map<number, PartitionState[]>();
    let leaderMissing = false;
    let earliestRetryMs = Number.POSITIVE_INFINITY;
    for (const state of this.partitions.values()) {
      if (state.busy || state.paused || state.error !== undefined || state.revoking || state.awaitingCommitted) continue;
      if (state.retryAtMs > nowMs) {
        if (!this.hasNewLeader(state)) {
          earliestRetryMs = Math.min(earliestRetryMs, state.retryAtMs);
          continue;
        }
        // As Kafka's clients: a leader that moved is tried as soon as the metadata names it,
        // not after a backoff that grew against the leader that failed.
        this.logger.debug({ topic: state.topic, partition: state.partition, failedLeaders: state.failedLeaders }, 'partition has a new leader, retrying at once');
        state.attempts = 0;
        state.retryAtMs = 0;
      }
      if (state.fetchOffset === undefined && state.pendingReset === undefined && !this.applyDefaultReset(state)) continue;
      const leader = this.cluster.leaderOf(state.topic, state.partition);
      if (leader === undefined) {
        leaderMissing = true;
        this.backOff(state);
        earliestRetryMs = Math.min(earliestRetryMs, state.retryAtMs);
        continue;
      }
      const target = state.pendingReset !== undefined ? resets : fetches;
      const list = target.get(leader) ?? [];
      list.push(state);
      target.set(leader, list);
    }
    if (leaderMissing) {
      this.cluster.refreshMetadata().catch((err: unknown) => this.logger.warn({ err }, 'metadata refresh for partition leaders failed'));
    }
    for (const [nodeId, states] of resets) this.startReset(nodeId, states);
    // The prefetch room is shared by every leader there is to fetch from now, so one leader's
    // fetch never reserves it all and starves the partitions other brokers lead.
    const idle = [...fetches].filter(([nodeId]) => !this.busyNodes.has(nodeId));
    let roomBytes = this.options.maxPrefetchBytes - this.bufferedBytes - this.reservedBytes;
    for (let i = 0; i < idle.length && roomBytes > 0; i++) {
      const [nodeId, states] = idle[i]!;
      const maxBytes = Math.min(this.options.fetchMaxBytes, Math.max(1, Math.floor(roomBytes / (idle.length - i))));
      this.startFetch(nodeId, states, maxBytes);
      roomBytes -= maxBytes;
    }
    if (Number.isFinite(earliestRetryMs)) this.scheduleRetry(earliestRetryMs - nowMs);
  }

  /** A partition without a position starts per autoOffsetReset; with 'none' that is an error the reader sees. */
  private applyDefaultReset(state: PartitionState): boolean {
    if (this.options.autoOffsetReset === 'none') {
      state.error = new RivuletError('OFFSET_OUT_OF_RANGE', `${state.topic}-${state.partition} has no position: seek() first or set autoOffsetReset`, {
        topic: state.topic,
        partition: state.partition,
      });
      this.changed.notify();
      return false;
    }
    state.pendingReset = this.options.autoOffsetReset;
    return true;
  }

  private scheduleRetry(delayMs: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.schedulePump(), Math.max(1, delayMs));
  }

  /** The metadata names a live leader of the partition that none of its failures since its last answer went to. */
  private hasNewLeader(state: PartitionState): boolean {
    const leader = this.cluster.leaderOf(state.topic, state.partition);
    return leader !== undefined && !state.failedLeaders.includes(leader);
  }

  private backOff(state: PartitionState): void {
    state.attempts++;
    state.retryAtMs = Date.now() + backoffDelayMs(this.options.backoff, state.attempts);
  }

  private startReset(nodeId: number, states: PartitionState[]): void {
    const epochs = states.map((s) => s.epoch);
    for (const state of states) state.busy = true;
    this.listOffsets(nodeId, states)
      .then((results) => states.forEach((state, i) => this.applyReset(state, epochs[i]!, nodeId, results.get(state))))
      .catch((err: unknown) => states.forEach((state, i) => this.applyFailure(state, epochs[i]!, nodeId, toRivuletError(err))))
      .finally(() => {
        for (const state of states) state.busy = false;
        this.schedulePump();
      });
  }

  private async listOffsets(nodeId: number, states: readonly PartitionState[]): Promise<Map<PartitionState, clientApi.ListOffsetsPartitionResponse>> {
    const connection = this.cluster.connectionFor(nodeId);
    if (connection === undefined) throw new RivuletError('LEADER_NOT_AVAILABLE', `broker ${nodeId} left the metadata`, { nodeId });
    const byTopic = new Map<string, clientApi.ListOffsetsPartition[]>();
    for (const state of states) {
      const target = state.pendingReset!;
      const timestamp = target === 'earliest' ? LIST_OFFSETS_EARLIEST : target === 'latest' ? LIST_OFFSETS_LATEST : target.timestampMs;
      byTopic.set(state.topic, [...(byTopic.get(state.topic) ?? []), { partition: state.partition, timestamp }]);
    }
    const response = await connection.listOffsets({ topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) }, this.options.requestTimeoutMs);
    const results = new Map<PartitionState, clientApi.ListOffsetsPartitionResponse>();
    for (const topic of response.topics) {
      for (const p of topic.partitions) {
        const state = states.find((s) => s.topic === topic.name && s.partition === p.partition);
        if (state !== undefined) results.set(state, p);
      }
    }
    return results;
  }

  private applyReset(state: PartitionState, epoch: number, nodeId: number, result: clientApi.ListOffsetsPartitionResponse | undefined): void {
    if (state.epoch !== epoch) return;
    if (result === undefined) {
      this.applyFailure(state, epoch, nodeId, new RivuletError('UNKNOWN_SERVER_ERROR', 'ListOffsets left this partition out', state));
      return;
    }
    const error = resultError(result.errorCode, result.errorMessage, { topic: state.topic, partition: state.partition });
    if (error !== undefined) {
      this.applyFailure(state, epoch, nodeId, error);
      return;
    }
    if (result.offset < 0) {
      // No record at or after the timestamp: like Kafka's offsetsForTimes, the position is the end.
      state.pendingReset = 'latest';
      return;
    }
    state.position = result.offset;
    state.fetchOffset = result.offset;
    state.pendingReset = undefined;
    state.attempts = 0;
    state.failedLeaders = [];
  }

  /**
   * Fetches `states` from their leader, asking for at most `maxBytes` (the broker still returns
   * one whole batch when the first is larger, so a big record never stalls a partition).
   */
  private startFetch(nodeId: number, states: PartitionState[], maxBytes: number): void {
    this.busyNodes.add(nodeId);
    this.reservedBytes += maxBytes;
    const requested = states.map((state) => ({ state, epoch: state.epoch, fetchOffset: state.fetchOffset! }));
    for (const state of states) state.busy = true;
    this.fetch(nodeId, requested, maxBytes)
      .then((results) => this.applyFetch(nodeId, requested, results))
      .catch((err: unknown) => {
        const error = toRivuletError(err);
        for (const r of requested) this.applyFailure(r.state, r.epoch, nodeId, error);
      })
      .finally(() => {
        this.busyNodes.delete(nodeId);
        this.reservedBytes -= maxBytes;
        for (const state of states) state.busy = false;
        this.schedulePump();
      });
  }

  private async fetch(
    nodeId: number,
    requested: readonly { state: PartitionState; fetchOffset: number }[],
    maxBytes: number,
  ): Promise<Map<PartitionState, clientApi.FetchPartitionResponse>> {
    const connection = this.cluster.connectionFor(nodeId);
    if (connection === undefined) throw new RivuletError('LEADER_NOT_AVAILABLE', `broker ${nodeId} left the metadata`, { nodeId });
    const byTopic = new Map<string, clientApi.FetchPartition[]>();
    for (const { state, fetchOffset } of requested) {
      const leaderEpoch = this.cluster.topic(state.topic)?.partitions[state.partition]?.leaderEpoch ?? -1;
      const partitionMaxBytes = Math.min(this.options.maxPartitionFetchBytes, maxBytes);
      const partition = { partition: state.partition, fetchOffset, partitionMaxBytes, currentLeaderEpoch: leaderEpoch };
      byTopic.set(state.topic, [...(byTopic.get(state.topic) ?? []), partition]);
    }
    const request: clientApi.FetchRequest = {
      maxWaitMs: this.options.fetchMaxWaitMs,
      minBytes: this.options.fetchMinBytes,
      maxBytes,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    };
    const response = await connection.fetch(request, this.options.fetchMaxWaitMs + this.options.requestTimeoutMs);
    const results = new Map<PartitionState, clientApi.FetchPartitionResponse>();
    for (const topic of response.topics) {
      for (const p of topic.partitions) {
        const match = requested.find((r) => r.state.topic === topic.name && r.state.partition === p.partition);
        if (match !== undefined) results.set(match.state, p);
      }
    }
    return results;
  }

  private applyFetch(
    nodeId: number,
    requested: readonly { state: PartitionState; epoch: number; fetchOffset: number }[],
    results: Map<PartitionState, clientApi.FetchPartitionResponse>,
  ): void {
    for (const { state, epoch, fetchOffset } of requested) {
      const result = results.get(state);
      if (result === undefined || state.epoch !== epoch || this.closed) continue;
      const error = resultError(result.errorCode, result.errorMessage, { topic: state.topic, partition: state.partition, offset: fetchOffset });
      if (error !== undefined) {
        this.applyFailure(state, epoch, nodeId, error);
        continue;
      }
      try {
        this.bufferRecords(state, epoch, fetchOffset, result);
      } catch (err) {
        this.applyFailure(state, epoch, nodeId, toRivuletError(err));
      }
    }
  }

  private bufferRecords(state: PartitionState, epoch: number, fetchOffset: number, result: clientApi.FetchPartitionResponse): void {
    const { batches } = splitBatches(result.records);
    const last = batches.at(-1);
    const endOffset = last === undefined ? Math.max(fetchOffset, result.nextOffset) : lastOffsetOf(readBatchHeader(last)) + 1;
    state.highWatermark = result.highWatermark;
    state.attempts = 0;
    state.failedLeaders = [];
    state.fetchOffset = endOffset;
    state.endCheckedAt = endOffset;
    if (batches.length === 0) {
      // Nothing to read, but the position may move past offsets the broker skipped.
      if (state.position !== undefined && this.chunks.every((c) => c.state !== state)) state.position = Math.max(state.position, endOffset);
      this.changed.notify();
      return;
    }
    const sizeBytes = batches.reduce((sum, b) => sum + b.length, 0);
    this.chunks.push({ state, epoch, batches, fetchOffset, endOffset, highWatermark: result.highWatermark, sizeBytes, nextBatch: 0, records: [], next: 0 });
    this.bufferedBytes += sizeBytes;
    this.changed.notify();
  }

  /** Handles a partition's fetch or lookup error from leader `nodeId`: reset, retry after backoff, or hand it to the reader. */
  private applyFailure(state: PartitionState, epoch: number, nodeId: number, error: RivuletError): void {
    if (state.epoch !== epoch || this.closed) return;
    if (error.errorName === 'OFFSET_OUT_OF_RANGE' && state.pendingReset === undefined) {
      if (this.options.autoOffsetReset === 'none') {
        state.error = error;
      } else {
        this.logger.info({ topic: state.topic, partition: state.partition, offset: state.fetchOffset, reset: this.options.autoOffsetReset }, 'offset out of range, resetting');
        this.seek(state, this.options.autoOffsetReset);
      }
      this.changed.notify();
      return;
    }
    if (error.retriable) {
      if (error.refreshMetadata) {
        this.cluster.refreshMetadata([state.topic]).catch((err: unknown) => this.logger.warn({ err }, 'metadata refresh after fetch error failed'));
      }
      this.logger.debug({ topic: state.topic, partition: state.partition, leader: nodeId, err: error }, 'fetch failed, retrying after backoff');
      if (!state.failedLeaders.includes(nodeId)) state.failedLeaders.push(nodeId);
      this.backOff(state);
      return;
    }
    state.error = error;
    this.changed.notify();
  }
}
