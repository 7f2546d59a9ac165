import { AssertionError, ErrorCode, RivuletError, assert, type Clock, type Logger, type Random, type Scheduler } from '@rivulet/common';
import { DEFAULT_GROUP_CONFIG, GroupCoordinator, coordinatorErrorCode, type GroupConfig, type GroupCoordinatorApi, type GroupRecord, type OffsetCommitRequest, type OffsetCommitResult, type StoredGroupRecord } from '@rivulet/group';
import { decodeRecordBatchesSync, encodeRecordBatchSync } from '@rivulet/records';
import type { Partition } from './partition.js';

/** The internal topic that holds consumer groups' committed offsets and membership. */
export const GROUP_OFFSETS_TOPIC = '__consumer_offsets';

/** The most record bytes one coalesced append of the coordinator carries (below message.max.bytes). */
const COALESCED_BATCH_BYTES_MAX = 512 * 1024;

interface PendingAppend {
  readonly records: readonly GroupRecord[];
  resolve(): void;
  reject(error: unknown): void;
}

/** How much of the log one read takes while a coordinator loads a partition. */
const LOAD_READ_BYTES = 1024 * 1024;

/** The broker's group-coordination settings, Kafka's names in the comments. */
export interface GroupCoordinatorSettings {
  /** offsets.topic.num.partitions: fixed once the topic exists (the group → partition map depends on it). */
  readonly offsetsTopicPartitions: number;
  /** offsets.topic.replication.factor: the topic gets min(this, live brokers) replicas when it is created. */
  readonly offsetsTopicReplicationFactor: number;
  /** offsets.commit.timeout.ms: how long a commit or an assignment waits to be replicated. */
  readonly offsetsCommitTimeoutMs: number;
  readonly groupConfig: GroupConfig;
}

export const DEFAULT_GROUP_COORDINATOR_SETTINGS: GroupCoordinatorSettings = {
  offsetsTopicPartitions: 50,
  offsetsTopicReplicationFactor: 3,
  offsetsCommitTimeoutMs: 5_000,
  groupConfig: DEFAULT_GROUP_CONFIG,
};

export interface GroupServiceOptions extends GroupCoordinatorSettings {
  readonly nodeId: number;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly random: Random;
  readonly logger: Logger;
  /** The broker's side of things: its replica of a partition of the offsets topic, and topic creation. */
  readonly host: GroupServiceHost;
}

export interface GroupServiceHost {
  /** This broker's replica of partition `partition` of the offsets topic, if it hosts one. */
  offsetsReplica(partition: number): Partition | undefined;
  /** The partition count and each partition's leader as the metadata says, or undefined before the topic exists. */
  offsetsTopicLeaders(): readonly number[] | undefined;
  /** Creates the offsets topic (compacted) and resolves once this broker's metadata shows it. */
  createOffsetsTopic(partitions: number, replicationFactor: number): Promise<void>;
  liveBrokerCount(): number;
  /** Whether this broker's lease holds: a leader acts only then. */
  leaseValid(): boolean;
}

/**
 * Hosts the pure group coordinator on this broker: it loads the groups of each offsets-topic
 * partition this broker comes to lead (COORDINATOR_LOAD_IN_PROGRESS meanwhile), unloads them
 * when leadership moves, and turns the coordinator's records into acks=all appends to that
 * partition, fenced by the leader epoch the partition was loaded at.
 */
export class GroupService {
  readonly coordinator: GroupCoordinatorApi;
  private readonly logger: Logger;
  /** Partitions this broker coordinates, with the leader epoch their groups were loaded at. */
  private readonly loadedEpochs = new Map<number, number>();
  /** Appends asked for in this event-loop turn, per partition, not yet handed to the log. */
  private readonly pendingAppends = new Map<number, PendingAppend[]>();
  private pendingTopicCreation: Promise<void> | undefined;
  private isClosed = false;

  constructor(private readonly options: GroupServiceOptions) {
    this.logger = options.logger.child({ component: 'group-coordinator' });
    this.coordinator = new GroupCoordinator({
      config: options.groupConfig,
      partitionCount: options.offsetsTopicPartitions,
      clock: options.clock,
      scheduler: options.scheduler,
      random: options.random,
      logger: this.logger,
      log: { append: (partition, records) => this.append(partition, records) },
    });
  }

  /**
   * Kafka's FindCoordinator for a group: the broker leading the group's partition of the offsets
   * topic, creating the topic on first use. COORDINATOR_NOT_AVAILABLE while no leader is known.
   */
  async findCoordinator(groupId: string): Promise<number> {
    let leaders = this.options.host.offsetsTopicLeaders();
    if (leaders === undefined) {
      await this.createOffsetsTopic();
      leaders = this.options.host.offsetsTopicLeaders();
    }
    if (leaders === undefined) throw new RivuletError('COORDINATOR_NOT_AVAILABLE', `the ${GROUP_OFFSETS_TOPIC} topic is being created`);
    if (leaders.length !== this.options.offsetsTopicPartitions) {
      throw new RivuletError(
        'COORDINATOR_NOT_AVAILABLE',
        `${GROUP_OFFSETS_TOPIC} has ${leaders.length} partitions but this broker is configured for ${this.options.offsetsTopicPartitions} (offsets.topic.num.partitions must match the topic)`,
      );
    }
    const partition = this.coordinator.partitionFor(groupId);
    const leaderId = leaders[partition] ?? -1;
    if (leaderId < 0) throw new RivuletError('COORDINATOR_NOT_AVAILABLE', `partition ${partition} of ${GROUP_OFFSETS_TOPIC} has no leader`);
    return leaderId;
  }

  private async createOffsetsTopic(): Promise<void> {
    if (this.pendingTopicCreation === undefined) {
      const replicationFactor = Math.max(1, Math.min(this.options.offsetsTopicReplicationFactor, this.options.host.liveBrokerCount()));
      this.pendingTopicCreation = this.options.host
        .createOffsetsTopic(this.options.offsetsTopicPartitions, replicationFactor)
        .then(() => this.logger.info({ partitions: this.options.offsetsTopicPartitions, replicationFactor }, `created ${GROUP_OFFSETS_TOPIC}`))
        .finally(() => {
          this.pendingTopicCreation = undefined;
        });
    }
    try {
      await this.pendingTopicCreation;
    } catch (err) {
      if (err instanceof AssertionError) throw err;
      throw new RivuletError('COORDINATOR_NOT_AVAILABLE', `cannot create ${GROUP_OFFSETS_TOPIC}: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
    }
  }

  /**
   * Follows this broker's role for one offsets-topic partition after each metadata change:
   * a new leader epoch here loads the partition's groups; leadership lost (or the replica
   * gone) unloads them.
   */
  onReplicaChanged(partition: number, replica: Partition | undefined): void {
    if (this.isClosed) return;
    const loadedEpoch = this.loadedEpochs.get(partition);
    const leaderEpoch = replica !== undefined && replica.isLeader ? replica.leaderEpoch : undefined;
    if (loadedEpoch === leaderEpoch) return;
    if (loadedEpoch !== undefined) {
      this.loadedEpochs.delete(partition);
      this.coordinator.unload(partition);
      this.logger.info({ partition, leaderEpoch: loadedEpoch }, 'stopped coordinating the groups of an offsets partition');
    }
    if (leaderEpoch === undefined || replica === undefined) return;
    this.loadedEpochs.set(partition, leaderEpoch);
    this.coordinator.beginLoading(partition, leaderEpoch);
    void this.load(partition, leaderEpoch, replica);
  }

  /** Reads the partition from its log start to its log end into the coordinator, then serves it. */
  private async load(partition: number, leaderEpoch: number, replica: Partition): Promise<void> {
    const startedMs = this.options.clock.nowMs();
    const isCurrent = (): boolean => !this.isClosed && this.loadedEpochs.get(partition) === leaderEpoch;
    let recordCount = 0;
    try {
      const log = replica.log;
      const endOffset = log.logEndOffset();
      let offset = log.logStartOffset();
      while (offset < endOffset && isCurrent()) {
        const read = await log.read(offset, LOAD_READ_BYTES);
        if (read.batchCount === 0) break;
        const records: StoredGroupRecord[] = [];
        for (const batch of decodeRecordBatchesSync(read.records)) {
          if (batch.header.isControl) continue;
          for (const record of batch.records) {
            if (record.key === null) {
              this.logger.warn({ partition, offset: record.offset }, `skipping a record without a key in ${GROUP_OFFSETS_TOPIC}`);
              continue;
            }
            records.push({ key: record.key, value: record.value, offset: record.offset, timestampMs: record.timestampMs });
          }
        }
        if (!isCurrent()) return;
        this.coordinator.replay(partition, records);
        recordCount += records.length;
        assert(read.nextOffset > offset, 'a read that returned batches moves forward');
        offset = read.nextOffset;
      }
      if (!isCurrent()) return;
      this.coordinator.finishLoading(partition, leaderEpoch);
      this.logger.info({ partition, leaderEpoch, records: recordCount, loadMs: Math.round(this.options.clock.nowMs() - startedMs) }, 'loaded the groups of an offsets partition');
    } catch (err) {
      if (err instanceof AssertionError) throw err;
      if (!isCurrent()) return;
      // The groups of this partition cannot be served from a log that cannot be read; they stay
      // NOT_COORDINATOR until leadership changes again (Kafka gives up the same way).
      this.loadedEpochs.delete(partition);
      this.coordinator.unload(partition);
      this.logger.error({ err, partition, leaderEpoch }, 'loading the groups of an offsets partition failed');
    }
  }

  /**
   * GroupLog.append. Appends the coordinator asks for in one event-loop turn go to the log as
   * one batch per partition (up to COALESCED_BATCH_BYTES_MAX), acks=all and fenced by the loaded
   * leader epoch: many members committing at once cost one validation, one write and one
   * replication round instead of one each. Batches of a partition reach the log in the order
   * the coordinator asked, and each caller learns its batch's outcome.
   */
  private append(partition: number, records: readonly GroupRecord[]): Promise<void> {
    this.currentReplica(partition);
    return new Promise<void>((resolve, reject) => {
      let queue = this.pendingAppends.get(partition);
      if (queue === undefined) {
        queue = [];
        this.pendingAppends.set(partition, queue);
        setImmediate(() => this.flushAppends(partition));
      }
      queue.push({ records, resolve, reject });
    });
  }

  /** This broker's replica of `partition` while it still leads it at the loaded epoch; NOT_COORDINATOR otherwise. */
  private currentReplica(partition: number): Partition {
    const replica = this.options.host.offsetsReplica(partition);
    const leaderEpoch = this.loadedEpochs.get(partition);
    if (replica === undefined || leaderEpoch === undefined || !replica.isLeader || replica.leaderEpoch !== leaderEpoch || !this.options.host.leaseValid()) {
      throw new RivuletError('NOT_COORDINATOR', `this broker no longer leads partition ${partition} of ${GROUP_OFFSETS_TOPIC}`);
    }
    return replica;
  }

  private flushAppends(partition: number): void {
    const queue = this.pendingAppends.get(partition);
    this.pendingAppends.delete(partition);
    if (queue === undefined) return;
    let replica: Partition;
    try {
      replica = this.currentReplica(partition);
    } catch (err) {
      for (const pending of queue) pending.reject(err);
      return;
    }
    const nowMs = this.options.clock.wallClockMs();
    let chunk: PendingAppend[] = [];
    let chunkBytes = 0;
    const issue = (): void => {
      if (chunk.length > 0) void this.appendChunk(replica, chunk, nowMs);
      chunk = [];
      chunkBytes = 0;
    };
    for (const pending of queue) {
      const bytes = pending.records.reduce((sum, r) => sum + r.key.byteLength + (r.value?.byteLength ?? 0), 0);
      if (chunk.length > 0 && chunkBytes + bytes > COALESCED_BATCH_BYTES_MAX) issue();
      chunk.push(pending);
      chunkBytes += bytes;
    }
    issue();
  }

  /** One batch of several callers' records; appendRecordsAsLeader takes its turn synchronously, so order holds. */
  private async appendChunk(replica: Partition, chunk: readonly PendingAppend[], nowMs: number): Promise<void> {
    try {
      const batch = encodeRecordBatchSync({
        nowMs,
        records: chunk.flatMap((pending) => pending.records.map((r) => ({ key: asBuffer(r.key), value: r.value === null ? null : asBuffer(r.value) }))),
      });
      await replica.appendRecordsAsLeader(batch, -1, this.options.offsetsCommitTimeoutMs);
      for (const pending of chunk) pending.resolve();
    } catch (err) {
      // The coordinator maps the log's errors to what group clients expect (coordinatorErrorCode).
      if (err instanceof AssertionError) throw err;
      for (const pending of chunk) pending.reject(err);
    }
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.loadedEpochs.clear();
    this.coordinator.close();
  }
}

/**
 * OffsetCommit as Kafka's request handler does it: partitions of topics that do not exist are
 * answered UNKNOWN_TOPIC_OR_PARTITION and never reach the coordinator, which answers the rest.
 * Answers follow the request's order.
 */
export async function commitOffsetsOfKnownPartitions(
  groups: GroupCoordinatorApi,
  partitionExists: (topic: string, partition: number) => boolean,
  request: OffsetCommitRequest,
): Promise<OffsetCommitResult> {
  const known = request.topics.map((t) => ({ name: t.name, partitions: t.partitions.filter((p) => partitionExists(t.name, p.partitionIndex)) }));
  const isEveryKnown = known.every((t, index) => t.partitions.length === request.topics[index]!.partitions.length);
  const sent = isEveryKnown ? request : { ...request, topics: known.filter((t) => t.partitions.length > 0) };
  let answered: OffsetCommitResult = { topics: [] };
  // A request naming only unknown partitions does not reach the coordinator at all.
  if (isEveryKnown || sent.topics.length > 0) {
    try {
      answered = await groups.commitOffsets(sent);
    } catch (err) {
      const errorCode = coordinatorErrorCode(err, 'offsets');
      answered = { topics: sent.topics.map((t) => ({ name: t.name, partitions: t.partitions.map(({ partitionIndex }) => ({ partitionIndex, errorCode })) })) };
    }
  }
  if (isEveryKnown) return answered;
  // The coordinator answers in the order it was asked: its answers go back between the unknown partitions.
  const knownPartitions = new Set(known.flatMap((t) => t.partitions));
  const errorCodes = answered.topics.flatMap((t) => t.partitions.map((p) => p.errorCode));
  assert(errorCodes.length === knownPartitions.size, `the coordinator answered ${errorCodes.length} of ${knownPartitions.size} partitions`);
  let next = 0;
  return {
    topics: request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: knownPartitions.has(p) ? errorCodes[next++]! : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })),
    })),
  };
}

/** A Buffer over the same bytes (no copy): the group core speaks Uint8Array, the records codec and the wire Buffer. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
