import { AssertionError, ErrorCode, RivuletError, systemRandom, systemScheduler, topicPartitionKey, type Clock, type Logger, type Random, type Scheduler } from '@rivulet/common';
import type { GroupCoordinatorApi, OffsetCommitRequest, OffsetCommitResult } from '@rivulet/group';
import { EMPTY_IMAGE, NO_LEADER, type MetadataImage, type PartitionRegistration, type TopicImage } from '@rivulet/metadata';
import type { controllerApi, replicationApi } from '@rivulet/proto';
import type { AlterPartitionProposal } from '@rivulet/replication';
import { LogStore, type FlushPolicy } from '@rivulet/storage';
import type { ReplicaFetchAnswer, ReplicaFetchAnswerPartition } from '@rivulet/transport-grpc';
import { FetchWaiters } from './fetch-waiters.js';
import { DEFAULT_GROUP_COORDINATOR_SETTINGS, GROUP_OFFSETS_TOPIC, GroupService, commitOffsetsOfKnownPartitions, type GroupCoordinatorSettings } from './group-service.js';
import { Partition } from './partition.js';
import { ProducerIdManager, initProducerId, type InitProducerIdRequest, type InitProducerIdResponse } from './producer-ids.js';
import { ReplicaFetcherManager, type ReplicaTransportFactory } from './replica-fetcher.js';
import {
  checkTopicConfigConsistency,
  describeTopicConfig,
  isCompacted,
  logRetentionOf,
  resolveTopicConfig,
  validateTopicConfigKey,
  validateTopicConfigs,
  validateTopicName,
  type TopicConfig,
  type TopicConfigDefaults,
} from './topic-config.js';
import {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  type BrokerEndpoint,
  type DeleteRecordsRequest,
  type DeleteRecordsResponse,
  type DescribeClusterResponse,
  type DrainBrokerResponse,
  type ListPartitionReassignmentsResponse,
  type FetchPartitionResponse,
  type FetchRequest,
  type FetchResponse,
  type ListOffsetsRequest,
  type ListOffsetsResponse,
  type MetadataRequest,
  type MetadataResponse,
  type PartitionStats,
  type ProduceRequest,
  type ProduceResponse,
  type ReassignablePartition,
  type ReassignmentResult,
  type TopicDescription,
  type TopicMetadata,
  type TopicResult,
  type TopicSpec,
} from './types.js';

/** What the broker asks of the controller quorum (ControllerChannel in production). */
export interface ControllerGateway {
  createTopics(request: controllerApi.CreateTopicsRequest, timeoutMs: number): Promise<controllerApi.CreateTopicsResponse>;
  deleteTopics(request: controllerApi.DeleteTopicsRequest, timeoutMs: number): Promise<controllerApi.DeleteTopicsResponse>;
  createPartitions(request: controllerApi.CreatePartitionsRequest, timeoutMs: number): Promise<controllerApi.CreatePartitionsResponse>;
  alterTopicConfigs(request: controllerApi.AlterTopicConfigsRequest, timeoutMs: number): Promise<controllerApi.AlterTopicConfigsResponse>;
  alterPartitionReassignments(request: controllerApi.AlterPartitionReassignmentsRequest, timeoutMs: number): Promise<controllerApi.AlterPartitionReassignmentsResponse>;
  listPartitionReassignments(request: controllerApi.ListPartitionReassignmentsRequest, timeoutMs: number): Promise<controllerApi.ListPartitionReassignmentsResponse>;
  drainBroker(request: controllerApi.DrainBrokerRequest, timeoutMs: number): Promise<controllerApi.DrainBrokerResponse>;
  alterPartition(request: controllerApi.AlterPartitionRequest, timeoutMs: number): Promise<controllerApi.AlterPartitionResponse>;
  allocateProducerIds(request: controllerApi.AllocateProducerIdsRequest, timeoutMs: number): Promise<controllerApi.AllocateProducerIdsResponse>;
}

export interface BrokerOptions {
  nodeId: number;
  clusterId: string;
  dataDir: string;
  flushPolicy: FlushPolicy;
  /** Memory for recently committed batches read without LevelDB (LogStore's tailCacheBytes). */
  logTailCacheBytes?: number;
  autoCreateTopics: boolean;
  defaultPartitions: number;
  defaultReplicationFactor: number;
  topicDefaults: TopicConfigDefaults;
  retentionCheckIntervalMs: number;
  /** log.cleaner.backoff.ms: how often the log cleaner looks for compacted replicas due for a pass. Default 15 000 ms. */
  logCleanerBackoffMs?: number;
  fetchMaxBytes: number;
  version: string;
  /** This node's roles, as DescribeCluster reports them. */
  roles: string;
  /** Topic administration goes to the controller quorum. */
  controller: ControllerGateway;
  /** Whether this broker's lease with the controller holds (BrokerLifecycle.leaseValid): leaders act only then. */
  leaseValid: () => boolean;
  /** How long an admin request waits for the controller and for its answer to reach this broker. Default 30 000 ms. */
  adminTimeoutMs?: number;
  /** This broker's epoch from its registration (-1 before it registered). */
  brokerEpoch: () => number;
  /** Opens a follower's connection to a leader broker's replica service. */
  replicaTransportFactory: ReplicaTransportFactory;
  /** replica.lag.time.max.ms: an ISR follower that has not caught up for this long leaves the ISR. Default 10 000 ms. */
  replicaLagTimeMaxMs?: number;
  /** How often high watermarks are written to disk. Default 5 000 ms. */
  highWatermarkCheckpointIntervalMs?: number;
  /** Bytes per second this broker copies for replicas a reassignment is adding to it; -1: no limit. */
  reassignmentThrottleBytesPerSec?: number;
  /** producer.id.expiration.ms: a partition forgets an idempotent producer idle this long. Default 86 400 000 (1 day). */
  producerIdExpirationMs?: number;
  /** Consumer-group coordination (the offsets topic and group timeouts); Kafka's defaults when absent. */
  groupCoordinator?: GroupCoordinatorSettings;
  /** Timers of the group coordinator; the system's when absent. */
  scheduler?: Scheduler;
  /** Member ids of the group coordinator; the system's when absent. */
  random?: Random;
  clock: Clock;
  logger: Logger;
}

/** Bounds that keep one request from holding the broker hostage. */
const FETCH_WAIT_MS_MAX = 30_000;
const PARKED_FETCHES_MAX = 10_000;
const PARTITIONS_PER_TOPIC_MAX = 10_000;
const STREAM_POLL_WAIT_MS = 500;
/** Partition reads of one fetch in flight at once (LevelDB iterators on the thread pool). */
const CONCURRENT_PARTITION_READS_MAX = 16;
/** Replica logs opened at once when metadata assigns many partitions to this broker. */
const CONCURRENT_REPLICA_OPENS_MAX = 32;
const DEFAULT_REPLICA_LAG_TIME_MAX_MS = 10_000;
const DEFAULT_HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS = 5_000;
const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000;
/** Kafka's log.cleaner.backoff.ms. */
export const DEFAULT_LOG_CLEANER_BACKOFF_MS = 15_000;
/** Deadline of one AlterPartition call, and the pause before a retry. */
const ALTER_PARTITION_TIMEOUT_MS = 5_000;
const ALTER_PARTITION_RETRY_MS = 500;
/** A replica fetch waits at most this long for new records. */
const REPLICA_FETCH_WAIT_MS_MAX = 5_000;
const NO_BATCHES: readonly Buffer[] = [];

function errorFields(err: unknown): { errorCode: number; errorMessage: string } {
  if (err instanceof AssertionError) throw err;
  if (err instanceof RivuletError) return { errorCode: err.code, errorMessage: err.message };
  throw err;
}

const NO_ERROR = { errorCode: 0, errorMessage: '' } as const;

/** One partition of a ReplicaFetch answer, as a single literal. */
function replicaFetchAnswer(
  request: { readonly topic: string; readonly partition: number },
  error: { readonly errorCode: number; readonly errorMessage: string },
  highWatermark: number,
  logStartOffset: number,
  logEndOffset: number,
  batches: readonly Buffer[],
): ReplicaFetchAnswerPartition {
  return { topic: request.topic, partition: request.partition, errorCode: error.errorCode, errorMessage: error.errorMessage, highWatermark, logStartOffset, logEndOffset, batches };
}

/** errorFields plus the leader hint a client needs to go elsewhere. */
function failureFields(err: unknown): { errorCode: number; errorMessage: string; leaderId: number } {
  return { ...errorFields(err), leaderId: err instanceof RivuletError ? (err.context.leaderId ?? -1) : -1 };
}

/**
 * Runs `handle` for every requested partition concurrently and shapes the per-topic answer;
 * a partition whose handler throws a RivuletError is answered with its code, message and
 * the `failed` placeholder fields, as Kafka answers per partition.
 */
async function forEachPartition<P extends { partition: number }, R extends { partition: number; errorCode: number; errorMessage: string }>(
  topics: { name: string; partitions: P[] }[],
  handle: (topic: string, partition: P) => Promise<R>,
  failed: Omit<R, 'partition' | 'errorCode' | 'errorMessage'>,
): Promise<{ name: string; partitions: R[] }[]> {
  return Promise.all(
    topics.map(async (topic) => ({
      name: topic.name,
      partitions: await Promise.all(
        topic.partitions.map((p) => handle(topic.name, p).catch((err: unknown) => ({ partition: p.partition, ...errorFields(err), ...failed }) as R)),
      ),
    })),
  );
}

function endpointOf(image: MetadataImage, brokerId: number): BrokerEndpoint | undefined {
  const broker = image.brokers.get(brokerId);
  if (broker === undefined) return undefined;
  const port = (name: string): number => broker.endpoints.find((e) => e.name === name)?.port ?? -1;
  const host = broker.endpoints.find((e) => e.name === 'grpc')?.host ?? broker.endpoints[0]?.host ?? '';
  return { nodeId: brokerId, host, grpcPort: port('grpc'), kafkaPort: port('kafka'), rack: broker.rack ?? '' };
}

/**
 * The protocol-free broker core: partition replicas on the LevelDB log store as the committed
 * metadata assigns them, produce / fetch / list-offsets / delete-records on the partitions it
 * leads, and topic administration forwarded to the controller quorum. Both front-ends (gRPC
 * client API, Kafka wire protocol) call these methods; neither holds a second copy of the logic.
 */
export class Broker {
  private readonly partitions = new Map<string, Partition>();
  private readonly waiters = new FetchWaiters(PARKED_FETCHES_MAX);
  private readonly pendingCreates = new Map<string, Promise<void>>();
  private readonly offsetWaiters = new Set<{ offset: number; resolve: () => void }>();
  private readonly logger: Logger;
  private readonly startedAtMs: number;
  private image: MetadataImage = EMPTY_IMAGE;
  private strayReplicasChecked = false;
  private retentionTimer: NodeJS.Timeout | undefined;
  private retentionRun: Promise<void> = Promise.resolve();
  private cleanerTimer: NodeJS.Timeout | undefined;
  private cleanerRun: Promise<void> = Promise.resolve();
  /** Replica logs a cleaning pass failed on: skipped until the broker restarts (Kafka's uncleanable partitions). */
  private readonly uncleanableLogs = new WeakSet<Partition['log']>();
  private isStopped = false;
  /** Replica fetches of followers parked on the partitions they follow here, woken by appends. */
  private readonly replicaWaiters = new FetchWaiters(PARKED_FETCHES_MAX);
  private readonly fetchers: ReplicaFetcherManager;
  private isrTimer: NodeJS.Timeout | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private readonly producerIds: ProducerIdManager;
  private readonly groupService: GroupService;

  private constructor(
    private readonly options: BrokerOptions,
    private readonly store: LogStore,
  ) {
    this.logger = options.logger.child({ component: 'broker' });
    this.startedAtMs = options.clock.nowMs();
    this.fetchers = new ReplicaFetcherManager({
      nodeId: options.nodeId,
      brokerEpoch: options.brokerEpoch,
      transportFactory: options.replicaTransportFactory,
      reassignmentThrottleBytesPerSec: options.reassignmentThrottleBytesPerSec,
      clock: options.clock,
      logger: this.logger,
    });
    this.producerIds = new ProducerIdManager({
      allocate: async () => {
        try {
          const response = await options.controller.allocateProducerIds({ brokerId: options.nodeId, brokerEpoch: options.brokerEpoch() }, this.adminTimeoutMs);
          return { start: response.producerIdStart, length: response.producerIdLen };
        } catch (cause) {
          if (cause instanceof AssertionError) throw cause;
          // Kafka's answer while no block is at hand: retriable, the client asks again.
          throw new RivuletError('COORDINATOR_LOAD_IN_PROGRESS', `no producer id block from the controller yet: ${cause instanceof Error ? cause.message : String(cause)}`, {}, { cause });
        }
      },
      logger: this.logger,
    });
    const groupSettings = options.groupCoordinator ?? DEFAULT_GROUP_COORDINATOR_SETTINGS;
    this.groupService = new GroupService({
      nodeId: options.nodeId,
      ...groupSettings,
      clock: options.clock,
      scheduler: options.scheduler ?? systemScheduler,
      random: options.random ?? systemRandom,
      logger: options.logger,
      host: {
        offsetsReplica: (partition) => this.partitions.get(topicPartitionKey({ topic: GROUP_OFFSETS_TOPIC, partition })),
        offsetsTopicLeaders: () => {
          const topic = this.image.topicsByName.get(GROUP_OFFSETS_TOPIC);
          if (topic === undefined) return undefined;
          return [...topic.partitions.values()].sort((a, b) => a.partition - b.partition).map((p) => p.leader);
        },
        createOffsetsTopic: (partitions, replicationFactor) => this.createOffsetsTopic(partitions, replicationFactor),
        liveBrokerCount: () => this.liveBrokers().length,
        leaseValid: () => options.leaseValid(),
      },
    });
  }

  /** The consumer-group coordinator for the offsets-topic partitions this broker leads. */
  get groups(): GroupCoordinatorApi {
    return this.groupService.coordinator;
  }

  /**
   * OffsetCommit as Kafka's request handler does it, for both front-ends: partitions of topics
   * that do not exist are answered UNKNOWN_TOPIC_OR_PARTITION and never reach the coordinator,
   * which answers the rest. Answers follow the request's order.
   */
  commitGroupOffsets(request: OffsetCommitRequest): Promise<OffsetCommitResult> {
    return commitOffsetsOfKnownPartitions(this.groups, (topic, partition) => this.image.topicsByName.get(topic)?.partitions.has(partition) === true, request);
  }

  /** Kafka FindCoordinator for a group: the node leading its offsets-topic partition (creating the topic on first use). */
  findGroupCoordinator(groupId: string): Promise<number> {
    return this.groupService.findCoordinator(groupId);
  }

  private async createOffsetsTopic(partitions: number, replicationFactor: number): Promise<void> {
    const spec = { name: GROUP_OFFSETS_TOPIC, partitions, replicationFactor, configs: { 'cleanup.policy': 'compact' } };
    const [result] = await this.createTopics([spec], false);
    if (result !== undefined && result.errorCode !== 0 && result.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
      throw RivuletError.fromCode(result.errorCode, result.errorMessage, { topic: GROUP_OFFSETS_TOPIC });
    }
  }

  /** Kafka InitProducerId for idempotent producers: a producer id unique in the cluster, epoch 0. */
  initProducerId(request: InitProducerIdRequest): Promise<InitProducerIdResponse> {
    return initProducerId(this.producerIds, request);
  }

  private get replicaLagTimeMaxMs(): number {
    return this.options.replicaLagTimeMaxMs ?? DEFAULT_REPLICA_LAG_TIME_MAX_MS;
  }

  static async start(options: BrokerOptions): Promise<Broker> {
    const store = await LogStore.open({ dataDir: options.dataDir, flushPolicy: options.flushPolicy, tailCacheBytes: options.logTailCacheBytes, logger: options.logger, clock: options.clock });
    const broker = new Broker(options, store);
    broker.scheduleRetention();
    broker.scheduleLogCleaner();
    broker.scheduleReplicationTimers();
    return broker;
  }

  get nodeId(): number {
    return this.options.nodeId;
  }

  /** The offset of the last metadata this broker applied (-1 before any). */
  get metadataOffset(): number {
    return this.image.offset;
  }

  async stop(): Promise<void> {
    if (this.isStopped) return;
    this.isStopped = true;
    this.groupService.close();
    clearTimeout(this.retentionTimer);
    clearTimeout(this.cleanerTimer);
    clearInterval(this.isrTimer);
    clearInterval(this.checkpointTimer);
    await this.fetchers.stop();
    await this.retentionRun;
    await this.cleanerRun;
    await this.checkpointHighWatermarks();
    await this.store.close();
    this.logger.info({}, 'broker stopped');
  }

  // ---- metadata -------------------------------------------------------------------------

  /**
   * Brings the local replicas in line with a newer committed image: opens (creating) the
   * logs of partitions assigned to this broker, makes each leader or follower, and deletes
   * the replicas of partitions it no longer hosts (deleted topics, moved replicas, a topic
   * re-created under the same name). Called in metadata order, one image at a time.
   */
  async applyMetadata(image: MetadataImage): Promise<void> {
    if (this.isStopped) return;
    const nodeId = this.options.nodeId;
    const wanted = new Map<string, { topic: TopicImage; registration: PartitionRegistration }>();
    for (const topic of image.topicsByName.values()) {
      for (const registration of topic.partitions.values()) {
        if (registration.replicas.includes(nodeId)) wanted.set(topicPartitionKey({ topic: topic.name, partition: registration.partition }), { topic, registration });
      }
    }
    for (const [key, replica] of [...this.partitions]) {
      const want = wanted.get(key);
      if (want !== undefined && want.topic.topicId === replica.topicId) continue;
      this.partitions.delete(key);
      if (replica.topic === GROUP_OFFSETS_TOPIC) this.groupService.onReplicaChanged(replica.partition, undefined);
      this.waiters.wake(key);
      this.replicaWaiters.wake(key);
      await this.fetchers.unfollow(key);
      await this.store.deletePartition({ topic: replica.topic, partition: replica.partition });
      this.logger.info({ topic: replica.topic, partition: replica.partition, topicId: replica.topicId }, 'deleted a replica this broker no longer hosts');
    }
    // Logs on disk that no metadata mentions (topics deleted while this broker was down) go
    // once the broker has caught up with the controller, never from an image that may lag.
    if (!this.strayReplicasChecked && this.options.leaseValid()) {
      this.strayReplicasChecked = true;
      for (const tp of this.store.listPartitions()) {
        if (wanted.has(topicPartitionKey(tp))) continue;
        this.logger.warn({ topic: tp.topic, partition: tp.partition }, 'deleting a replica of a topic that no longer exists');
        await this.store.deletePartition(tp);
      }
    }
    const toOpen = [...wanted].filter(([key]) => !this.partitions.has(key));
    for (let start = 0; start < toOpen.length; start += CONCURRENT_REPLICA_OPENS_MAX) {
      await Promise.all(toOpen.slice(start, start + CONCURRENT_REPLICA_OPENS_MAX).map(([, want]) => this.openPartition(want.topic, want.registration.partition)));
    }
    this.image = image;
    for (const [key, want] of wanted) {
      const replica = this.partitions.get(key);
      if (replica === undefined) continue;
      replica.updateConfig(this.topicConfigOf(want.topic));
      const r = want.registration;
      const followsOther = r.leader !== nodeId && r.leader >= 0;
      // A replica changes role only once no fetcher writes its log any more.
      const stopping = followsOther && this.fetchers.isFollowing(key, r.leader, r.leaderEpoch) ? undefined : this.fetchers.unfollow(key);
      if (stopping !== undefined) await stopping;
      replica.applyAssignment({ leaderId: r.leader, leaderEpoch: r.leaderEpoch, partitionEpoch: r.partitionEpoch, replicas: r.replicas, isr: r.isr });
      if (followsOther) {
        const leader = endpointOf(image, r.leader);
        const isBeingAdded = r.addingReplicas.includes(nodeId);
        if (leader !== undefined && leader.grpcPort > 0) this.fetchers.follow(key, replica, r.leader, r.leaderEpoch, `${leader.host}:${leader.grpcPort}`, isBeingAdded);
        else this.logger.warn({ topic: replica.topic, partition: replica.partition, leaderId: r.leader }, 'the leader has no gRPC endpoint in metadata; not fetching');
      }
      if (replica.topic === GROUP_OFFSETS_TOPIC) this.groupService.onReplicaChanged(replica.partition, replica);
    }
    if (toOpen.length > 0) this.logger.info({ opened: toOpen.length, hosted: this.partitions.size, offset: image.offset }, 'replicas opened');
    for (const waiter of [...this.offsetWaiters]) {
      if (image.offset >= waiter.offset) {
        this.offsetWaiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  private async openPartition(topic: TopicImage, partition: number): Promise<Partition> {
    const config = this.topicConfigOf(topic);
    const tp = { topic: topic.name, partition };
    const key = topicPartitionKey(tp);
    const log = await this.store.openPartition(tp, logRetentionOf(config));
    const replica = new Partition(
      topic.name,
      partition,
      topic.topicId,
      log,
      config,
      {
        nodeId: this.options.nodeId,
        clock: this.options.clock,
        replicaLagTimeMaxMs: this.replicaLagTimeMaxMs,
        isReplicaIsrEligible: (brokerId) => this.image.brokers.get(brokerId)?.state === 'unfenced',
        onChange: () => {
          this.waiters.wake(key);
          this.replicaWaiters.wake(key);
        },
        onHighWatermark: () => this.waiters.wake(key),
        onAppend: () => this.replicaWaiters.wake(key),
        onIsrChangeProposed: (p, proposal) => this.sendAlterPartition(p, proposal),
      },
      this.logger.child({ topic: topic.name, partition }),
    );
    this.partitions.set(key, replica);
    return replica;
  }

  /** Resolves once this broker applied metadata up to `offset`; REQUEST_TIMED_OUT after `timeoutMs`. */
  private waitForMetadata(offset: number, timeoutMs: number): Promise<void> {
    if (this.image.offset >= offset) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        offset,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.offsetWaiters.delete(waiter);
        reject(new RivuletError('REQUEST_TIMED_OUT', `the controller committed the change at metadata offset ${offset}, but this broker has only applied ${this.image.offset}`));
      }, timeoutMs);
      this.offsetWaiters.add(waiter);
    });
  }

  private get adminTimeoutMs(): number {
    return this.options.adminTimeoutMs ?? 30_000;
  }

  // ---- replication ----------------------------------------------------------------------

  /** A topic's effective configs (min.insync.replicas defaults by its replication factor). */
  private topicConfigOf(topic: TopicImage): TopicConfig {
    return resolveTopicConfig(Object.fromEntries(topic.configs), this.options.topicDefaults, this.replicationFactorOf(topic));
  }

  /** Replicas per partition, as the first partition's target replicas say. */
  private replicationFactorOf(topic: TopicImage): number {
    const first = topic.partitions.get(0);
    return first === undefined ? 1 : first.replicas.length - first.removingReplicas.length;
  }

  /**
   * Leaders look for ISR followers that fell behind every replica.lag.time.max.ms / 2 (Kafka's
   * isr-expiration); every replica writes its high watermark to disk every few seconds.
   */
  private scheduleReplicationTimers(): void {
    this.isrTimer = setInterval(() => {
      const nowMs = this.options.clock.nowMs();
      for (const replica of this.partitions.values()) if (replica.isLeader) replica.maybeProposeIsrChange(nowMs);
    }, Math.max(1, Math.floor(this.replicaLagTimeMaxMs / 2)));
    this.isrTimer.unref();
    this.checkpointTimer = setInterval(() => void this.checkpointHighWatermarks(), this.options.highWatermarkCheckpointIntervalMs ?? DEFAULT_HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS);
    this.checkpointTimer.unref();
  }

  private async checkpointHighWatermarks(): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const replica of this.partitions.values()) {
      if (replica.highWatermark !== replica.log.highWatermarkCheckpoint()) writes.push(replica.log.checkpointHighWatermark(replica.highWatermark));
    }
    const failed = (await Promise.allSettled(writes)).filter((r) => r.status === 'rejected');
    // A replica deleted meanwhile refuses its checkpoint; nothing else is expected here.
    if (failed.length > 0) this.logger.debug({ failed: failed.length }, 'some high-watermark checkpoints were not written');
  }

  /** Sends a leader's ISR change to the controller, retrying while it stays pending. */
  private sendAlterPartition(replica: Partition, proposal: AlterPartitionProposal): void {
    const attempt = async (): Promise<void> => {
      if (this.isStopped || replica.leader?.pendingIsrChange !== proposal) return;
      let outcome: ReturnType<Partition['onIsrChangeAnswered']>;
      try {
        const response = await this.options.controller.alterPartition(
          {
            brokerId: this.options.nodeId,
            brokerEpoch: this.options.brokerEpoch(),
            topicId: replica.topicId,
            partition: replica.partition,
            leaderEpoch: proposal.leaderEpoch,
            partitionEpoch: proposal.partitionEpoch,
            newIsr: [...proposal.newIsr],
          },
          ALTER_PARTITION_TIMEOUT_MS,
        );
        outcome = replica.onIsrChangeAnswered(proposal, response);
        if (response.errorCode !== 0) {
          this.logger.info({ topic: replica.topic, partition: replica.partition, errorCode: response.errorCode, errorMessage: response.errorMessage, outcome }, 'the controller refused an ISR change');
        }
      } catch (error) {
        if (!(error instanceof RivuletError)) throw error;
        this.logger.warn({ topic: replica.topic, partition: replica.partition, err: error }, 'AlterPartition failed; retrying');
        outcome = 'retry';
      }
      if (outcome === 'retry') setTimeout(() => void attempt(), ALTER_PARTITION_RETRY_MS).unref();
    };
    void attempt();
  }

  /** The partition a follower's replica request is about, led here; throws what to answer otherwise. */
  private replicaForFollower(topic: string, partition: number, topicId: string): Partition {
    const replica = this.leaderReplica(topic, partition);
    if (topicId !== '' && topicId !== replica.topicId) {
      throw new RivuletError('UNKNOWN_TOPIC_ID', `${topic} is now a different topic (id ${replica.topicId}, not ${topicId})`, { topic, partition });
    }
    return replica;
  }

  /**
   * ReplicaService.ReplicaFetch: a follower broker's fetch of the partitions it follows here.
   * Each partition's fetch offset is that follower's log end: it moves the follower's progress,
   * the high watermark and the ISR. Then answers with the records after each fetch offset (up
   * to the log end, not the high watermark), waiting up to maxWaitMs for minBytes.
   */
  async replicaFetch(request: replicationApi.ReplicaFetchRequest, signal?: AbortSignal): Promise<ReplicaFetchAnswer> {
    // A stopped broker leads nothing. Answering at once without an error would send the
    // follower straight back, a busy loop wherever nothing in between waits on I/O.
    if (this.isStopped) throw new RivuletError('NOT_LEADER_OR_FOLLOWER', `broker ${this.options.nodeId} is stopped`);
    const follower = this.image.brokers.get(request.replicaId);
    if (follower === undefined || request.replicaId === this.options.nodeId) {
      throw new RivuletError('BROKER_ID_NOT_REGISTERED', `broker ${request.replicaId} is not a registered follower`);
    }
    if (request.brokerEpoch < follower.brokerEpoch) {
      throw new RivuletError('STALE_BROKER_EPOCH', `broker ${request.replicaId} fetched with epoch ${request.brokerEpoch}; its registration has epoch ${follower.brokerEpoch}`);
    }
    if (!Number.isSafeInteger(request.maxBytes) || request.maxBytes < 0 || !Number.isSafeInteger(request.maxWaitMs) || request.maxWaitMs < 0) {
      throw new RivuletError('INVALID_REQUEST', `replica fetch sizes must be non-negative integers (maxBytes ${request.maxBytes}, maxWaitMs ${request.maxWaitMs})`);
    }
    const recorded = request.partitions.map((p) => {
      try {
        const replica = this.replicaForFollower(p.topic, p.partition, p.topicId);
        replica.onFollowerFetch(request.replicaId, p.currentLeaderEpoch, p.fetchOffset, p.logStartOffset);
        return { request: p, replica, error: undefined };
      } catch (err) {
        return { request: p, replica: this.partitions.get(topicPartitionKey({ topic: p.topic, partition: p.partition })), error: errorFields(err) };
      }
    });
    const deadlineMs = this.options.clock.nowMs() + Math.min(request.maxWaitMs, REPLICA_FETCH_WAIT_MS_MAX);
    const keys = recorded.filter((r) => r.error === undefined).map((r) => topicPartitionKey({ topic: r.request.topic, partition: r.request.partition }));
    for (;;) {
      let budget = request.maxBytes;
      let totalBytes = 0;
      let hasError = false;
      const partitions = await Promise.all(
        recorded.map(async (r): Promise<ReplicaFetchAnswerPartition> => {
          // The positions as they are before the read. Every follower fetch of every partition
          // comes here: answers are literals of one shape, since spreading them cost more than
          // the rest of this function.
          const replica = r.replica;
          const highWatermark = replica?.highWatermark ?? -1;
          const logStartOffset = replica?.log.logStartOffset() ?? -1;
          const logEndOffset = replica?.log.logEndOffset() ?? -1;
          if (r.error !== undefined) {
            hasError = true;
            return replicaFetchAnswer(r.request, r.error, highWatermark, logStartOffset, logEndOffset, NO_BATCHES);
          }
          try {
            const limit = Math.min(r.request.partitionMaxBytes, Math.max(budget, 0));
            // Reserve before the read so concurrent reads share the response budget; the first
            // read returns at least one batch whatever its size, so followers never stall.
            budget -= limit;
            const read = r.request.fetchOffset >= logEndOffset ? undefined : await replica!.log.read(r.request.fetchOffset, limit);
            const bytes = read?.byteLength ?? 0;
            budget += limit - bytes;
            totalBytes += bytes;
            return replicaFetchAnswer(r.request, NO_ERROR, replica!.highWatermark, logStartOffset, logEndOffset, read?.batches ?? NO_BATCHES);
          } catch (err) {
            hasError = true;
            return replicaFetchAnswer(r.request, errorFields(err), highWatermark, logStartOffset, logEndOffset, NO_BATCHES);
          }
        }),
      );
      const remainingMs = deadlineMs - this.options.clock.nowMs();
      if (totalBytes >= Math.max(request.minBytes, 1) || hasError || remainingMs <= 0 || signal?.aborted || this.isStopped || keys.length === 0) return { partitions };
      const woken = await this.replicaWaiters.wait(keys, remainingMs, signal);
      if (!woken && this.options.clock.nowMs() < deadlineMs && !signal?.aborted) return { partitions };
    }
  }

  /** ReplicaService.OffsetForLeaderEpoch: where this leader's log ends for each asked epoch. */
  offsetForLeaderEpochAsLeader(request: replicationApi.OffsetForLeaderEpochRequest): replicationApi.OffsetForLeaderEpochResponse {
    return {
      partitions: request.partitions.map((p) => {
        const base = { topic: p.topic, partition: p.partition };
        try {
          const replica = this.leaderReplica(p.topic, p.partition);
          replica.leader!.checkLeaderEpoch(p.currentLeaderEpoch);
          const answer = replica.log.endOffsetForLeaderEpoch(p.leaderEpoch);
          return { ...base, errorCode: 0, errorMessage: '', leaderEpoch: answer.leaderEpoch, endOffset: answer.endOffset };
        } catch (err) {
          return { ...base, ...errorFields(err), leaderEpoch: -1, endOffset: -1 };
        }
      }),
    };
  }

  // ---- topics ---------------------------------------------------------------------------

  /**
   * Checks each spec here (name, partition count, configs; the broker's defaults fill in -1),
   * sends the valid ones to the controller in one request, and answers once this broker's
   * metadata includes the outcome, so a Metadata request that follows sees the topics.
   */
  async createTopics(specs: TopicSpec[], validateOnly: boolean): Promise<TopicResult[]> {
    return this.forwardTopicChanges(
      specs,
      (spec) => this.checkTopicSpec(spec),
      (topics) => this.options.controller.createTopics({ topics, validateOnly }, this.adminTimeoutMs),
      (topic, result) => {
        if (!validateOnly) this.logger.info({ topic: topic.name, partitions: topic.partitions, topicId: result.topicId }, 'topic created');
      },
    );
  }

  /**
   * The shape of every per-topic admin request: each item is checked here (a refusal answers
   * that item alone), the valid ones go to the controller in one request, and the answer
   * comes once this broker's metadata includes the outcome, so a request that follows sees it.
   */
  private async forwardTopicChanges<I extends { name: string }, T extends { name: string }>(
    items: readonly I[],
    check: (item: I) => T,
    send: (topics: T[]) => Promise<{ results: controllerApi.TopicResult[]; metadataOffset: number }>,
    onApplied: (topic: T, result: controllerApi.TopicResult) => void,
  ): Promise<TopicResult[]> {
    const results = new Map<number, TopicResult>();
    const forwarded: { index: number; topic: T }[] = [];
    items.forEach((item, index) => {
      try {
        forwarded.push({ index, topic: check(item) });
      } catch (err) {
        results.set(index, { name: item.name, ...errorFields(err) });
      }
    });
    if (forwarded.length > 0) {
      try {
        const response = await send(forwarded.map((f) => f.topic));
        await this.waitForMetadata(response.metadataOffset, this.adminTimeoutMs);
        forwarded.forEach((f, i) => {
          const r = response.results[i];
          results.set(f.index, { name: f.topic.name, errorCode: r?.errorCode ?? 0, errorMessage: r?.errorMessage ?? '', ...(r?.topicId ? { topicId: r.topicId } : {}) });
          if (r !== undefined && r.errorCode === 0) onApplied(f.topic, r);
        });
      } catch (err) {
        for (const f of forwarded) results.set(f.index, { name: f.topic.name, ...errorFields(err) });
      }
    }
    return items.map((_, index) => results.get(index)!);
  }

  private checkTopicSpec(spec: TopicSpec): controllerApi.CreatableTopic {
    validateTopicName(spec.name);
    const partitions = spec.partitions === -1 ? this.options.defaultPartitions : spec.partitions;
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > PARTITIONS_PER_TOPIC_MAX) {
      throw new RivuletError('INVALID_PARTITIONS', `partition count must be between 1 and ${PARTITIONS_PER_TOPIC_MAX}, got ${spec.partitions}`, { topic: spec.name });
    }
    const replicationFactor = spec.replicationFactor === -1 ? this.options.defaultReplicationFactor : spec.replicationFactor;
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > 32767) {
      throw new RivuletError('INVALID_REPLICATION_FACTOR', `replication factor must be at least 1, got ${spec.replicationFactor}`, { topic: spec.name });
    }
    validateTopicConfigs(spec.configs);
    checkTopicConfigConsistency(resolveTopicConfig(spec.configs, this.options.topicDefaults, replicationFactor), replicationFactor, spec.name);
    return { name: spec.name, partitions, replicationFactor, configs: Object.entries(spec.configs).map(([key, value]) => ({ key, value })) };
  }

  /** Creates an unknown topic with defaults, or waits for a creation already under way. */
  private async autoCreate(name: string): Promise<void> {
    const pending = this.pendingCreates.get(name);
    if (pending) return pending;
    if (this.image.topicsByName.has(name)) return;
    const creation = this.createTopics([{ name, partitions: -1, replicationFactor: -1, configs: {} }], false).then(([result]) => {
      if (result !== undefined && result.errorCode !== 0 && result.errorCode !== 36 /* TOPIC_ALREADY_EXISTS */) {
        throw RivuletError.fromCode(result.errorCode, result.errorMessage, { topic: name });
      }
    });
    this.pendingCreates.set(name, creation);
    try {
      await creation;
    } finally {
      this.pendingCreates.delete(name);
    }
  }

  async deleteTopics(names: string[]): Promise<TopicResult[]> {
    try {
      const response = await this.options.controller.deleteTopics({ names }, this.adminTimeoutMs);
      await this.waitForMetadata(response.metadataOffset, this.adminTimeoutMs);
      return names.map((name, i) => {
        const r = response.results[i];
        if (r !== undefined && r.errorCode === 0) this.logger.info({ topic: name }, 'topic deleted');
        return { name, errorCode: r?.errorCode ?? 0, errorMessage: r?.errorMessage ?? '' };
      });
    } catch (err) {
      const fields = errorFields(err);
      return names.map((name) => ({ name, ...fields }));
    }
  }

  /**
   * Changes topic configs (Kafka's AlterConfigs and IncrementalAlterConfigs for topics): a
   * value sets a key, null removes it (the broker default applies again). With `replace`, every
   * explicit config the request does not name is removed too, as AlterConfigs does. Each topic
   * is checked here (known keys, valid values, min.insync.replicas within the replication
   * factor) and answered on its own; valid ones go to the controller in one request.
   */
  async alterTopicConfigs(
    topics: { name: string; changes: { key: string; value: string | null }[] }[],
    validateOnly: boolean,
    replace = false,
  ): Promise<TopicResult[]> {
    return this.forwardTopicChanges(
      topics,
      (t) => this.checkConfigChanges(t.name, t.changes, replace),
      (checked) => this.options.controller.alterTopicConfigs({ topics: checked, validateOnly }, this.adminTimeoutMs),
      (topic) => {
        if (validateOnly || topic.changes.length === 0) return;
        this.logger.info({ topic: topic.name, changes: topic.changes.map((c) => (c.remove ? `-${c.key}` : `${c.key}=${c.value}`)) }, 'topic configs changed');
      },
    );
  }

  /** The controller's form of one topic's config changes, once they are known to be valid. */
  private checkConfigChanges(name: string, changes: readonly { key: string; value: string | null }[], replace: boolean): controllerApi.TopicConfigChanges {
    const topic = this.image.topicsByName.get(name);
    if (topic === undefined) throw new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`, { topic: name });
    const next = new Map(replace ? [] : topic.configs);
    for (const change of changes) {
      if (change.value === null) {
        validateTopicConfigKey(change.key);
        next.delete(change.key);
      } else {
        validateTopicConfigs({ [change.key]: change.value });
        next.set(change.key, change.value);
      }
    }
    const replicationFactor = this.replicationFactorOf(topic);
    checkTopicConfigConsistency(resolveTopicConfig(Object.fromEntries(next), this.options.topicDefaults, replicationFactor), replicationFactor, name);
    const removed = [...topic.configs.keys()].filter((key) => !next.has(key));
    return {
      name,
      changes: [
        ...[...next].filter(([key, value]) => topic.configs.get(key) !== value).map(([key, value]) => ({ key, value, remove: false })),
        ...removed.map((key) => ({ key, value: '', remove: true })),
      ],
    };
  }

  /** Grows topics to the given partition counts (Kafka's CreatePartitions). */
  async createPartitions(updates: { name: string; count: number }[], validateOnly: boolean): Promise<TopicResult[]> {
    return this.forwardTopicChanges(
      updates,
      (u) => ({ name: u.name, count: u.count }),
      (topics) => this.options.controller.createPartitions({ topics, validateOnly }, this.adminTimeoutMs),
      (topic) => {
        if (!validateOnly) this.logger.info({ topic: topic.name, partitions: topic.count }, 'partitions added');
      },
    );
  }


  // ---- reassignments -------------------------------------------------------------------

  /**
   * Starts, replaces or cancels partition reassignments at the controller, answering once this
   * broker's metadata includes them. The replicas of a reassignment in progress include the
   * adding ones, so applyMetadata opens those here as followers; a replica being removed is
   * deleted only once the completed reassignment leaves it out of `replicas`.
   */
  async alterPartitionReassignments(partitions: ReassignablePartition[]): Promise<ReassignmentResult[]> {
    try {
      const response = await this.options.controller.alterPartitionReassignments({ partitions }, this.adminTimeoutMs);
      await this.waitForMetadata(response.metadataOffset, this.adminTimeoutMs);
      return partitions.map((p, i) => ({ topic: p.topic, partition: p.partition, errorCode: response.results[i]?.errorCode ?? 0, errorMessage: response.results[i]?.errorMessage ?? '' }));
    } catch (err) {
      const fields = errorFields(err);
      return partitions.map((p) => ({ topic: p.topic, partition: p.partition, ...fields }));
    }
  }

  /** Reassignments in progress, as the active controller sees them. */
  async listPartitionReassignments(topics: string[]): Promise<ListPartitionReassignmentsResponse> {
    const response = await this.options.controller.listPartitionReassignments({ topics }, this.adminTimeoutMs);
    // Answered once this broker's metadata is as new as the controller's answer, so that a
    // completed reassignment it reports is also what its metadata shows.
    await this.waitForMetadata(response.metadataOffset, this.adminTimeoutMs);
    return { reassignments: response.reassignments, topicErrors: response.topicErrors.map((t) => ({ name: t.name, errorCode: t.errorCode, errorMessage: t.errorMessage })) };
  }

  /** Drains a broker (see the controller's DrainBroker), answering once this broker's metadata includes it. */
  async drainBroker(brokerId: number): Promise<DrainBrokerResponse> {
    try {
      const response = await this.options.controller.drainBroker({ brokerId }, this.adminTimeoutMs);
      await this.waitForMetadata(response.metadataOffset, this.adminTimeoutMs);
      if (response.errorCode === 0) this.logger.info({ brokerId, partitions: response.started.length }, 'broker drain started');
      return { errorCode: response.errorCode, errorMessage: response.errorMessage, started: response.started };
    } catch (err) {
      return { ...errorFields(err), started: [] };
    }
  }

  /** The live brokers, as clients should reach them. */
  private liveBrokers(): BrokerEndpoint[] {
    const out: BrokerEndpoint[] = [];
    for (const broker of [...this.image.brokers.values()].sort((a, b) => a.brokerId - b.brokerId)) {
      if (broker.state === 'fenced') continue;
      const endpoint = endpointOf(this.image, broker.brokerId);
      if (endpoint !== undefined) out.push(endpoint);
    }
    return out;
  }

  async metadata(request: MetadataRequest): Promise<MetadataResponse> {
    const topics: TopicMetadata[] = [];
    const names = request.topics.length === 0 ? [...this.image.topicsByName.keys()].sort() : request.topics;
    for (const name of names) {
      try {
        validateTopicName(name);
        if (!this.image.topicsByName.has(name) && request.allowAutoTopicCreation && this.options.autoCreateTopics) await this.autoCreate(name);
        topics.push(this.topicMetadata(name));
      } catch (err) {
        topics.push({ name, isInternal: false, partitions: [], ...errorFields(err) });
      }
    }
    return { clusterId: this.options.clusterId, controllerId: this.options.nodeId, brokers: this.liveBrokers(), topics };
  }

  /** The id (a UUID) of the topic with this name, if it exists. */
  topicIdOf(name: string): string | undefined {
    return this.image.topicsByName.get(name)?.topicId;
  }

  /** The name of the topic with this id (a UUID), if it exists. */
  topicNameById(topicId: string): string | undefined {
    return this.image.topicNamesById.get(topicId);
  }

  private topicOrThrow(name: string): TopicImage {
    const topic = this.image.topicsByName.get(name);
    if (!topic) throw new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`, { topic: name });
    return topic;
  }

  private topicMetadata(name: string): TopicMetadata {
    const topic = this.topicOrThrow(name);
    const partitions = [...topic.partitions.values()]
      .sort((a, b) => a.partition - b.partition)
      .map((p) => ({
        partition: p.partition,
        errorCode: p.leader === NO_LEADER ? 5 /* LEADER_NOT_AVAILABLE */ : 0,
        leaderId: p.leader,
        leaderEpoch: p.leaderEpoch,
        replicas: [...p.replicas],
        isr: [...p.isr],
      }));
    return { name, topicId: topic.topicId, errorCode: 0, errorMessage: '', isInternal: name === GROUP_OFFSETS_TOPIC, partitions };
  }

  describeTopics(names: string[]): TopicDescription[] {
    const wanted = names.length === 0 ? [...this.image.topicsByName.keys()].sort() : names;
    return wanted.map((name) => {
      try {
        const topic = this.topicOrThrow(name);
        const partitions = this.topicMetadata(name).partitions.map((p) => {
          // Offsets are known for the replicas this broker hosts; -1 elsewhere (ask their leaders).
          const replica = this.partitions.get(topicPartitionKey({ topic: name, partition: p.partition }));
          return {
            partition: p.partition,
            leaderId: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicas,
            isr: p.isr,
            logStartOffset: replica?.log.logStartOffset() ?? -1,
            highWatermark: replica?.isLeader ? replica.highWatermark : -1,
            logEndOffset: replica?.log.logEndOffset() ?? -1,
            sizeBytes: replica?.log.sizeBytes() ?? -1,
          };
        });
        const configs = describeTopicConfig(this.topicConfigOf(topic));
        return { name, errorCode: 0, errorMessage: '', isInternal: name === GROUP_OFFSETS_TOPIC, configs, explicitConfigKeys: [...topic.configs.keys()], partitions };
      } catch (err) {
        return { name, isInternal: false, configs: {}, partitions: [], ...errorFields(err) };
      }
    });
  }

  // ---- records --------------------------------------------------------------------------

  /**
   * The replica a client request (produce, fetch, offsets) must go to: this broker must lead
   * the partition and hold its lease. Otherwise NOT_LEADER_OR_FOLLOWER with the leader the
   * metadata names, or UNKNOWN_TOPIC_OR_PARTITION when the partition does not exist.
   */
  private leaderReplica(topic: string, partition: number): Partition {
    const replica = this.partitions.get(topicPartitionKey({ topic, partition }));
    if (replica === undefined) {
      const registration = this.image.topicsByName.get(topic)?.partitions.get(partition);
      if (registration === undefined) {
        throw new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `this broker does not host ${topic}-${partition}`, { topic, partition });
      }
      throw new RivuletError('NOT_LEADER_OR_FOLLOWER', `this broker does not host ${topic}-${partition}; broker ${registration.leader} leads it`, {
        topic,
        partition,
        leaderId: registration.leader,
      });
    }
    if (!replica.isLeader) throw replica.notLeader();
    if (!this.options.leaseValid()) {
      throw new RivuletError('NOT_LEADER_OR_FOLLOWER', `this broker's lease with the controller lapsed; it does not act as leader of ${topic}-${partition}`, {
        topic,
        partition,
        leaderId: -1,
      });
    }
    return replica;
  }

  async produce(request: ProduceRequest): Promise<ProduceResponse> {
    if (request.acks !== 0 && request.acks !== 1 && request.acks !== -1) {
      throw new RivuletError('INVALID_REQUIRED_ACKS', `acks must be 0, 1 or -1 (all), got ${request.acks}`);
    }
    const topics = await Promise.all(
      request.topics.map(async (topic) => {
        try {
          validateTopicName(topic.name);
          if (topic.name === GROUP_OFFSETS_TOPIC) {
            throw new RivuletError('INVALID_TOPIC_EXCEPTION', `${GROUP_OFFSETS_TOPIC} is internal: only the group coordinator writes to it`, { topic: topic.name });
          }
          if (!this.image.topicsByName.has(topic.name) && this.options.autoCreateTopics) await this.autoCreate(topic.name);
        } catch (err) {
          const fields = errorFields(err);
          return { name: topic.name, partitions: topic.partitions.map((p) => this.produceFailure(p.partition, fields)) };
        }
        const partitions = await Promise.all(topic.partitions.map((p) => this.producePartition(topic.name, p.partition, p.records, request.acks, request.timeoutMs)));
        return { name: topic.name, partitions };
      }),
    );
    return { topics };
  }

  private produceFailure(partition: number, fields: { errorCode: number; errorMessage: string; leaderId?: number }) {
    return { partition, leaderId: -1, ...fields, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 };
  }

  private async producePartition(topic: string, partition: number, records: Buffer, acks: number, timeoutMs: number) {
    try {
      const replica = this.leaderReplica(topic, partition);
      const outcome = await replica.appendRecordsAsLeader(records, acks, timeoutMs > 0 ? timeoutMs : 30_000);
      return {
        partition,
        errorCode: 0,
        errorMessage: '',
        baseOffset: outcome.baseOffset,
        logAppendTimeMs: -1,
        logStartOffset: replica.log.logStartOffset(),
        leaderId: this.options.nodeId,
      };
    } catch (err) {
      return this.produceFailure(partition, failureFields(err));
    }
  }

  /** Long poll: answers once minBytes are readable, maxWaitMs passed, or an error shows up. */
  async fetch(request: FetchRequest, signal?: AbortSignal): Promise<FetchResponse> {
    this.validateFetch(request);
    const deadlineMs = this.options.clock.nowMs() + Math.min(request.maxWaitMs, FETCH_WAIT_MS_MAX);
    const keys = request.topics.flatMap((t) => t.partitions.map((p) => topicPartitionKey({ topic: t.name, partition: p.partition })));
    for (;;) {
      const { response, totalBytes, hasError } = await this.readOnce(request);
      const remainingMs = deadlineMs - this.options.clock.nowMs();
      if (totalBytes >= Math.max(request.minBytes, 1) || hasError || remainingMs <= 0 || signal?.aborted || this.isStopped) return response;
      const woken = await this.waiters.wait(keys, remainingMs, signal);
      if (!woken) return (await this.readOnce(request)).response;
    }
  }

  /**
   * Streams fetch responses: each carries what became readable since the previous one, and
   * the next read continues from each partition's next offset. `write` waits while the
   * client is slow, so at most one response per stream is buffered.
   */
  async fetchStream(request: FetchRequest, write: (response: FetchResponse) => Promise<void>, signal: AbortSignal): Promise<void> {
    this.validateFetch(request);
    const cursor: FetchRequest = { ...request, maxWaitMs: STREAM_POLL_WAIT_MS, topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ ...p })) })) };
    while (!signal.aborted && !this.isStopped) {
      const response = await this.fetch(cursor, signal);
      let hasData = false;
      let hasError = false;
      response.topics.forEach((topic, ti) =>
        topic.partitions.forEach((p, pi) => {
          if (p.records.length > 0) hasData = true;
          if (p.errorCode !== 0) hasError = true;
          cursor.topics[ti]!.partitions[pi]!.fetchOffset = p.errorCode === 0 ? p.nextOffset : cursor.topics[ti]!.partitions[pi]!.fetchOffset;
        }),
      );
      if (hasData || hasError) await write(response);
      // A partition error ends the stream: the client decides (refresh metadata, reset offsets) and reopens it.
      if (hasError) return;
    }
  }

  private validateFetch(request: FetchRequest): void {
    if (!Number.isSafeInteger(request.maxBytes) || request.maxBytes < 0) {
      throw new RivuletError('INVALID_FETCH_SIZE', `fetch maxBytes must be a non-negative integer, got ${request.maxBytes}`);
    }
    if (request.maxWaitMs < 0 || request.minBytes < 0) {
      throw new RivuletError('INVALID_REQUEST', `fetch maxWaitMs and minBytes must be non-negative, got ${request.maxWaitMs} and ${request.minBytes}`);
    }
  }

  /**
   * Reads every requested partition once. Reads run concurrently, a bounded number at a
   * time, each up to its partition limit; then, in request order, a partition whose data
   * would overrun the response's byte budget is answered empty (its next fetch retries), so
   * the budget holds as if the reads had been sequential.
   */
  private async readOnce(request: FetchRequest): Promise<{ response: FetchResponse; totalBytes: number; hasError: boolean }> {
    // A maxBytes of 0 means "the broker's limit", as Kafka clients before KIP-74 expect.
    let budgetBytes = Math.min(request.maxBytes === 0 ? this.options.fetchMaxBytes : request.maxBytes, this.options.fetchMaxBytes);
    const wanted = request.topics.flatMap((topic) => topic.partitions.map((p) => ({ topic: topic.name, ...p })));
    const results: FetchPartitionResponse[] = [];
    for (let start = 0; start < wanted.length; start += CONCURRENT_PARTITION_READS_MAX) {
      const chunk = wanted.slice(start, start + CONCURRENT_PARTITION_READS_MAX);
      results.push(...(await Promise.all(chunk.map((p, i) => this.readPartition(p.topic, p.partition, p.fetchOffset, p.partitionMaxBytes, budgetBytes, start + i === 0, p.currentLeaderEpoch)))));
    }
    let totalBytes = 0;
    let hasError = false;
    let index = 0;
    const topics: FetchResponse['topics'] = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map(() => {
        const result = results[index++]!;
        if (result.errorCode !== 0) hasError = true;
        if (result.records.length > budgetBytes && totalBytes > 0) return { ...result, records: Buffer.alloc(0), nextOffset: wanted[index - 1]!.fetchOffset };
        totalBytes += result.records.length;
        budgetBytes = Math.max(0, budgetBytes - result.records.length);
        return result;
      }),
    }));
    return { response: { topics }, totalBytes, hasError };
  }

  private async readPartition(
    topic: string,
    partition: number,
    fetchOffset: number,
    partitionMaxBytes: number,
    budgetBytes: number,
    isFirst: boolean,
    currentLeaderEpoch = -1,
  ): Promise<FetchPartitionResponse> {
    const empty = { partition, records: Buffer.alloc(0), nextOffset: fetchOffset, leaderId: this.options.nodeId };
    let replica: Partition | undefined;
    try {
      if (!Number.isSafeInteger(partitionMaxBytes) || partitionMaxBytes <= 0) {
        throw new RivuletError('INVALID_FETCH_SIZE', `partition max bytes must be a positive integer, got ${partitionMaxBytes}`, { topic, partition });
      }
      replica = this.leaderReplica(topic, partition);
      // A consumer that names the leader epoch it knows (Fetch v9+) is told when it is behind
      // (FENCED_LEADER_EPOCH: refresh metadata) or ahead of this broker (UNKNOWN_LEADER_EPOCH).
      if (currentLeaderEpoch >= 0) replica.leader!.checkLeaderEpoch(currentLeaderEpoch);
      // The first partition with data is returned even when its first batch exceeds the budget, so consumers progress.
      const limitBytes = Math.min(partitionMaxBytes, isFirst ? Math.max(budgetBytes, 1) : budgetBytes);
      if (limitBytes <= 0) return { ...empty, errorCode: 0, errorMessage: '', highWatermark: replica.highWatermark, logStartOffset: replica.log.logStartOffset() };
      const read = await replica.readCommitted(fetchOffset, limitBytes);
      return {
        partition,
        errorCode: 0,
        errorMessage: '',
        highWatermark: replica.highWatermark,
        logStartOffset: replica.log.logStartOffset(),
        records: read.records,
        nextOffset: read.batchCount > 0 ? read.nextOffset : fetchOffset,
        leaderId: this.options.nodeId,
      };
    } catch (err) {
      return { ...empty, ...failureFields(err), highWatermark: replica?.highWatermark ?? -1, logStartOffset: replica?.log.logStartOffset() ?? -1 };
    }
  }

  async listOffsets(request: ListOffsetsRequest): Promise<ListOffsetsResponse> {
    return { topics: await forEachPartition(request.topics, (topic, p) => this.listOffset(topic, p.partition, p.timestamp), { offset: -1, timestamp: -1 }) };
  }

  private async listOffset(topic: string, partition: number, timestamp: number) {
    const replica = this.leaderReplica(topic, partition);
    const none = { partition, errorCode: 0, errorMessage: '', offset: -1, timestamp: -1 };
    if (timestamp === LATEST_TIMESTAMP) return { ...none, offset: replica.highWatermark };
    if (timestamp === EARLIEST_TIMESTAMP) return { ...none, offset: replica.log.logStartOffset() };
    if (timestamp < 0) throw new RivuletError('INVALID_REQUEST', `unsupported special timestamp ${timestamp}`, { topic, partition });
    const found = await replica.log.offsetForTimestamp(timestamp);
    if (!found || found.offset >= replica.highWatermark) return none;
    return { ...none, offset: found.offset, timestamp: found.timestampMs };
  }

  async deleteRecords(request: DeleteRecordsRequest): Promise<DeleteRecordsResponse> {
    const topics = await forEachPartition(
      request.topics,
      async (topic, p) => ({ partition: p.partition, errorCode: 0, errorMessage: '', lowWatermark: await this.leaderReplica(topic, p.partition).deleteRecordsBefore(p.offset) }),
      { lowWatermark: -1 },
    );
    return { topics };
  }

  describeCluster(): DescribeClusterResponse {
    const stats = this.partitionStats();
    return {
      clusterId: this.options.clusterId,
      controllerId: this.options.nodeId,
      brokers: this.liveBrokers(),
      self: {
        nodeId: this.options.nodeId,
        roles: this.options.roles,
        version: this.options.version,
        uptimeMs: Math.round(this.options.clock.nowMs() - this.startedAtMs),
        dataDir: this.options.dataDir,
        partitionCount: stats.length,
        leaderCount: [...this.partitions.values()].filter((p) => p.isLeader).length,
        logSizeBytes: stats.reduce((sum, s) => sum + s.sizeBytes, 0),
      },
    };
  }

  partitionStats(): PartitionStats[] {
    return [...this.partitions.values()].map((p) => ({
      topic: p.topic,
      partition: p.partition,
      logStartOffset: p.log.logStartOffset(),
      logEndOffset: p.log.logEndOffset(),
      highWatermark: p.highWatermark,
      sizeBytes: p.log.sizeBytes(),
    }));
  }

  // ---- retention ------------------------------------------------------------------------

  private scheduleRetention(): void {
    this.retentionTimer = setTimeout(() => {
      this.retentionRun = this.applyRetention().then(() => undefined).finally(() => {
        if (!this.isStopped) this.scheduleRetention();
      });
    }, this.options.retentionCheckIntervalMs);
    this.retentionTimer.unref();
  }

  // ---- log cleaner ----------------------------------------------------------------------

  private scheduleLogCleaner(): void {
    this.cleanerTimer = setTimeout(() => {
      this.cleanerRun = this.cleanLogs().then(() => undefined).finally(() => {
        if (!this.isStopped) this.scheduleLogCleaner();
      });
    }, this.options.logCleanerBackoffMs ?? DEFAULT_LOG_CLEANER_BACKOFF_MS);
    this.cleanerTimer.unref();
  }

  /**
   * Runs a cleaning pass on every replica of a compacted topic that is due for one (its dirty
   * ratio, max.compaction.lag.ms, or expired tombstones), one replica at a time. Leaders and
   * followers clean independently, as in Kafka, each only below its own high watermark: what
   * lies below it is committed and never truncated, so a record superseded there stays
   * superseded. Runs on a timer (log.cleaner.backoff.ms); returns the passes run.
   */
  async cleanLogs(): Promise<number> {
    let passes = 0;
    for (const replica of [...this.partitions.values()]) {
      if (this.isStopped) break;
      const config = replica.topicConfig;
      if (!isCompacted(config.cleanupPolicy) || this.uncleanableLogs.has(replica.log)) continue;
      const context = { topic: replica.topic, partition: replica.partition };
      try {
        const bounds = { cleanableEndOffset: replica.highWatermark, nowMs: this.options.clock.wallClockMs(), minCompactionLagMs: config.minCompactionLagMs, deleteRetentionMs: config.deleteRetentionMs };
        const due = await replica.log.cleaningDue({ ...bounds, minCleanableDirtyRatio: config.minCleanableDirtyRatio, maxCompactionLagMs: config.maxCompactionLagMs });
        if (!due.isDue) continue;
        const result = await replica.log.compact(bounds);
        passes++;
        this.logger.info({ ...context, reason: due.reason, dirtyRatio: Number(due.dirtyRatio.toFixed(3)), ...result }, 'log cleaned');
      } catch (err) {
        if (err instanceof AssertionError || !(err instanceof RivuletError)) throw err;
        // Deleted meanwhile (metadata moved it away): nothing to clean any more.
        if (err.errorName === 'UNKNOWN_TOPIC_OR_PARTITION') continue;
        // A replica that failed (deleted, storage error) or holds a batch that does not decode:
        // Kafka marks such a partition uncleanable rather than failing on it every pass.
        this.uncleanableLogs.add(replica.log);
        this.logger.error({ ...context, err }, 'log cleaning failed; this replica is not cleaned again until the broker restarts');
      }
    }
    return passes;
  }

  /** Deletes batches past each topic's retention time or size; runs on a timer. */
  async applyRetention(): Promise<number> {
    let deletedBatches = 0;
    for (const replica of [...this.partitions.values()]) {
      if (this.isStopped) break;
      try {
        deletedBatches += (await replica.log.applyRetention(this.options.clock.wallClockMs())).deletedBatches;
        replica.log.expireProducers(this.options.clock.wallClockMs(), this.options.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS);
      } catch (err) {
        this.logger.error({ err, topic: replica.topic, partition: replica.partition }, 'retention failed');
      }
    }
    if (deletedBatches > 0) this.logger.info({ deletedBatches }, 'retention deleted batches');
    return deletedBatches;
  }
}
