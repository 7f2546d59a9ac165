import { randomUUID } from 'node:crypto';
import { RivuletError, assert, noopLogger } from '@rivulet/common';
import type { Cancellable, Clock, Logger, Scheduler } from '@rivulet/common';
import {
  NO_LEADER,
  allPartitions,
  allocateProducerIds,
  alterTopicConfigs,
  applyRecords,
  completeReassignments,
  createPartitions,
  createTopic,
  decideReassignments,
  decideTopics,
  deleteTopic,
  drainBroker,
  electPreferredLeaders,
  encodeRecordList,
  expiredLeases,
  fenceBrokers,
  getPartition,
  handleAlterPartition,
  handleBrokerHeartbeat,
  listReassignments,
  recordHeartbeat,
  registerBroker,
} from '@rivulet/metadata';
import type {
  AlterPartitionRequest,
  BrokerHeartbeatOutcome,
  BrokerHeartbeatRequest,
  CreateTopicSpec,
  DrainMove,
  LeaseTable,
  MetadataImage,
  MetadataRecord,
  PartitionRegistration,
  ReassignmentEntry,
  ReassignmentOutcome,
  ReassignmentStatus,
  RegisterBrokerRequest,
  Result,
  TopicConfigChange,
  TopicOutcome,
} from '@rivulet/metadata';
import { NotControllerError, RaftOutcomeUnknownError } from './errors.js';
import type { MetadataLog } from './metadata-log.js';
import type { RaftDriver } from './raft-driver.js';

export interface QuorumControllerOptions {
  readonly driver: RaftDriver;
  readonly log: MetadataLog;
  readonly clusterId: string;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly logger?: Logger;
  /** A broker that has not heartbeaten for this long is fenced. Default 2000 ms. */
  readonly sessionTimeoutMs?: number;
  /** How often the active controller looks for expired leases. Default 100 ms. */
  readonly leaseCheckIntervalMs?: number;
  /** Move leadership back to preferred replicas automatically. Default true. */
  readonly autoLeaderRebalance?: boolean;
  /** How often the active controller runs preferred-leader election. Default 5000 ms. */
  readonly leaderImbalanceCheckIntervalMs?: number;
  /** Writes queued on the active controller before new ones are refused. Default 1000. */
  readonly pendingWritesMax?: number;
  /** How long a write waits for the metadata to be current (new leader). Default 5000 ms. */
  readonly catchUpTimeoutMs?: number;
}

export interface WriteOutcome<T> {
  readonly value: T;
  /** The metadata offset at which the decision is committed (or the current one when nothing changed). */
  readonly offset: number;
}

export const DEFAULT_BROKER_SESSION_TIMEOUT_MS = 2000;

/** How often the active controller looks for reassignments that can complete outside an ISR change. */
const REASSIGNMENT_SWEEP_INTERVAL_MS = 1000;

/**
 * The active-controller logic on top of the Raft driver, as KRaft's QuorumController: every
 * decision is a pure function of the committed MetadataImage (@rivulet/metadata) whose
 * records are proposed as one Raft entry and take effect when applied. Writes run one at a
 * time on the Raft leader, each on an image that reflects everything committed before it, so
 * a decision never contradicts the log it lands in. Broker leases are soft state of the
 * active controller: they restart (with a grace of one session timeout) on failover.
 */
export class QuorumController {
  private readonly logger: Logger;
  private readonly sessionTimeoutMs: number;
  private readonly leaseCheckIntervalMs: number;
  private readonly imbalanceCheckIntervalMs: number;
  private readonly pendingWritesMax: number;
  private readonly catchUpTimeoutMs: number;
  private writeChain: Promise<unknown> = Promise.resolve();
  private pendingWrites = 0;
  /** The term in which this member last confirmed that its image covers every committed entry. */
  private confirmedTerm = -1;
  /** A proposal whose outcome is unknown; later writes wait until it is settled. */
  private uncertain: { index: number; term: number } | null = null;
  private leases: LeaseTable = new Map();
  private readonly caughtUpOffsets = new Map<number, number>();
  private activeTerm = -1;
  private activeSinceMs = 0;
  private activeSinceOffset = 0;
  private lastImbalanceCheckMs = 0;
  private lastReassignmentSweepMs = 0;
  private timer: Cancellable | null = null;
  private fencing = false;
  private completing = false;
  private stopped = false;

  constructor(private readonly options: QuorumControllerOptions) {
    this.logger = (options.logger ?? noopLogger).child({ component: 'controller' });
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_BROKER_SESSION_TIMEOUT_MS;
    this.leaseCheckIntervalMs = options.leaseCheckIntervalMs ?? 100;
    this.imbalanceCheckIntervalMs = options.leaderImbalanceCheckIntervalMs ?? 5000;
    this.pendingWritesMax = options.pendingWritesMax ?? 1000;
    this.catchUpTimeoutMs = options.catchUpTimeoutMs ?? 5000;
  }

  get image(): MetadataImage {
    return this.options.log.image;
  }

  /** Whether this member is the Raft leader, i.e. the active controller. */
  get isActive(): boolean {
    return this.options.driver.status().role === 'leader';
  }

  start(): void {
    this.scheduleCheck();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  // ---- brokers ----------------------------------------------------------------------------

  async registerBroker(request: RegisterBrokerRequest & { readonly clusterId: string }): Promise<{ brokerEpoch: number; caughtUpOffset: number }> {
    if (request.clusterId !== this.options.clusterId) {
      throw new RivuletError('INCONSISTENT_CLUSTER_ID', `broker ${request.brokerId} belongs to cluster "${request.clusterId}", this quorum to "${this.options.clusterId}"`, {
        nodeId: request.brokerId,
      });
    }
    // As in KRaft, the epoch is the offset the registration is committed at: writes are
    // serialized on the leader, so the entry proposed next lands right after the last one.
    const outcome = await this.write((image) => {
      const brokerEpoch = this.options.driver.status().lastIndex + 1;
      return mapResult(registerBroker(image, request, brokerEpoch), (records) => ({ records, value: brokerEpoch }));
    });
    this.caughtUpOffsets.set(request.brokerId, outcome.offset);
    this.leases = recordHeartbeat(this.leases, request.brokerId, this.options.clock.nowMs());
    this.logger.info({ brokerId: request.brokerId, brokerEpoch: outcome.value, incarnationId: request.incarnationId }, 'broker registered');
    return { brokerEpoch: outcome.value, caughtUpOffset: outcome.offset };
  }

  async brokerHeartbeat(request: BrokerHeartbeatRequest): Promise<BrokerHeartbeatOutcome & { offset: number }> {
    this.requireActive();
    const caughtUp = (): number => this.caughtUpOffsets.get(request.brokerId) ?? this.activeSinceOffset;
    // Most heartbeats change nothing: answer them from the image without queueing behind writes.
    const quick = handleBrokerHeartbeat(this.image, request, caughtUp());
    if (!quick.ok) throw quick.error;
    this.leases = recordHeartbeat(this.leases, request.brokerId, this.options.clock.nowMs());
    if (quick.value.records.length === 0 && this.confirmedTerm === this.options.driver.status().term) {
      return { ...quick.value, offset: this.image.offset };
    }
    const outcome = await this.write((image) =>
      mapResult(handleBrokerHeartbeat(image, request, caughtUp()), (value) => ({ records: value.records, value })),
    );
    if (outcome.value.records.some((r) => r.type === 'UnfenceBroker')) this.logger.info({ brokerId: request.brokerId }, 'broker unfenced');
    if (outcome.value.shouldShutDown) this.logger.info({ brokerId: request.brokerId }, 'broker finished its controlled shutdown');
    return { ...outcome.value, offset: outcome.offset };
  }

  /** Hands a broker the next block of producer ids, committed before it is answered (KIP-730). */
  async allocateProducerIds(brokerId: number, brokerEpoch: number): Promise<WriteOutcome<{ start: number; length: number }>> {
    const outcome = await this.write((image) =>
      mapResult(allocateProducerIds(image, brokerId, brokerEpoch), ({ records, start, length }) => ({ records, value: { start, length } })),
    );
    this.logger.info({ brokerId, producerIdStart: outcome.value.start, producerIdCount: outcome.value.length }, 'producer id block allocated');
    return outcome;
  }

  // ---- topics -----------------------------------------------------------------------------

  createTopics(specs: readonly CreateTopicSpec[], validateOnly: boolean): Promise<WriteOutcome<TopicOutcome[]>> {
    return this.write((image) => {
      const { records, outcomes } = decideTopics(image, specs, (scratch, spec) => {
        const topicId = randomUUID();
        return { decision: createTopic(scratch, spec, topicId), topicId };
      }, validateOnly);
      return { ok: true, value: { records, value: outcomes } };
    });
  }

  deleteTopics(names: readonly string[]): Promise<WriteOutcome<TopicOutcome[]>> {
    return this.write((image) => {
      const { records, outcomes } = decideTopics(image, names.map((name) => ({ name })), (scratch, { name }) => ({
        decision: deleteTopic(scratch, name),
        topicId: scratch.topicsByName.get(name)?.topicId ?? '',
      }));
      return { ok: true, value: { records, value: outcomes } };
    });
  }

  createPartitions(updates: readonly { name: string; count: number }[], validateOnly: boolean): Promise<WriteOutcome<TopicOutcome[]>> {
    return this.write((image) => {
      const { records, outcomes } = decideTopics(image, updates, (scratch, update) => ({
        decision: createPartitions(scratch, update.name, update.count),
        topicId: scratch.topicsByName.get(update.name)?.topicId ?? '',
      }), validateOnly);
      return { ok: true, value: { records, value: outcomes } };
    });
  }

  /** Sets or removes topic configs, each topic decided on the image the ones before it left. */
  alterTopicConfigs(topics: readonly { name: string; changes: readonly TopicConfigChange[] }[], validateOnly: boolean): Promise<WriteOutcome<TopicOutcome[]>> {
    return this.write((image) => {
      const { records, outcomes } = decideTopics(image, topics, (scratch, t) => ({
        decision: alterTopicConfigs(scratch, t.name, t.changes),
        topicId: scratch.topicsByName.get(t.name)?.topicId ?? '',
      }), validateOnly);
      return { ok: true, value: { records, value: outcomes } };
    });
  }

  // ---- partitions -------------------------------------------------------------------------

  /**
   * A leader's ISR change; the answer is the partition as committed. When the change brings
   * every target replica of a reassignment into the ISR, the same entry completes it.
   */
  alterPartition(request: AlterPartitionRequest): Promise<WriteOutcome<PartitionRegistration>> {
    return this.write((image) =>
      mapResult(handleAlterPartition(image, request), (records) => {
        const changed = applyRecords(image, records, image.offset);
        const completion = completeReassignments(changed, [{ topicId: request.topicId, partition: request.partition }]);
        if (completion.length > 0) this.logger.info({ topicId: request.topicId, partition: request.partition }, 'partition reassignment completed');
        return { records: [...records, ...completion], value: null };
      }),
    ).then((outcome) => {
      const partition = getPartition(this.image, request.topicId, request.partition);
      assert(partition !== undefined, 'a committed AlterPartition leaves the partition in place');
      return { value: partition, offset: outcome.offset };
    });
  }

  // ---- reassignments ------------------------------------------------------------------------

  /**
   * Starts, replaces or cancels (a null target) reassignments, each entry decided on the image
   * left by the ones before it; one that can complete at once (its target is in sync) does so
   * in the same entry.
   */
  alterPartitionReassignments(entries: readonly ReassignmentEntry[]): Promise<WriteOutcome<ReassignmentOutcome[]>> {
    return this.write((image) => {
      const { records, outcomes } = decideReassignments(image, entries);
      return { ok: true, value: { records, value: outcomes } };
    }).then((outcome) => {
      // Outcomes are in entry order.
      outcome.value.forEach((o, i) => {
        if (o.error === null) this.logger.info({ topic: o.topic, partition: o.partition, targetReplicas: entries[i]?.targetReplicas ?? 'cancel' }, 'partition reassignment changed');
      });
      return outcome;
    });
  }

  /**
   * Reassignments in progress (of `topics` when given) on an image that covers every committed
   * entry: the read queues behind writes like one, but proposes nothing.
   */
  listPartitionReassignments(topics: readonly string[]): Promise<WriteOutcome<{ reassignments: ReassignmentStatus[]; unknownTopics: string[] }>> {
    return this.write((image) => {
      const unknownTopics = topics.filter((t) => !image.topicsByName.has(t));
      return { ok: true, value: { records: [], value: { reassignments: listReassignments(image, topics), unknownTopics } } };
    });
  }

  /**
   * Drains a broker: starts a reassignment off it for every partition it holds and moves its
   * leaderships where another ISR member can lead. The answer carries each partition's
   * target and its leader as committed.
   */
  drainBroker(brokerId: number): Promise<WriteOutcome<{ move: DrainMove; leaderId: number }[]>> {
    return this.write((image) => mapResult(drainBroker(image, brokerId), ({ records, moves }) => ({ records, value: moves }))).then((outcome) => {
      this.logger.info({ brokerId, partitions: outcome.value.length }, 'broker drain started');
      return {
        offset: outcome.offset,
        value: outcome.value.map((move) => ({ move, leaderId: getPartition(this.image, move.topicId, move.partition)?.leader ?? NO_LEADER })),
      };
    });
  }

  /** Preferred-leader election for the given partitions (all when omitted). */
  electLeaders(partitions?: readonly { topicId: string; partition: number }[]): Promise<WriteOutcome<number>> {
    return this.write((image) => {
      const records = electPreferredLeaders(image, partitions);
      return { ok: true, value: { records, value: records.length } };
    });
  }

  /** Soft state for `cluster status`: milliseconds since each broker's last heartbeat here. */
  heartbeatAges(): Map<number, number> {
    const nowMs = this.options.clock.nowMs();
    return new Map([...this.leases].map(([id, atMs]) => [id, Math.max(0, Math.round(nowMs - atMs))]));
  }

  // ---- the write path -----------------------------------------------------------------------

  private requireActive(): void {
    this.observeTerm();
    const status = this.options.driver.status();
    if (status.role !== 'leader') throw new NotControllerError(status.leaderId, 'not the active controller');
  }

  /**
   * Runs `decide` on a current image and commits its records, one write at a time. Refused
   * with NOT_CONTROLLER off the leader; THROTTLING_QUOTA_EXCEEDED past the queue bound.
   */
  private write<T>(decide: (image: MetadataImage) => Result<{ records: MetadataRecord[]; value: T }>): Promise<WriteOutcome<T>> {
    this.requireActive();
    if (this.pendingWrites >= this.pendingWritesMax) {
      return Promise.reject(new RivuletError('THROTTLING_QUOTA_EXCEEDED', `${this.pendingWrites} controller writes are queued`));
    }
    this.pendingWrites++;
    const run = this.writeChain.then(async () => {
      this.requireActive();
      await this.ensureCurrent();
      const decision = decide(this.image);
      if (!decision.ok) throw decision.error;
      const { records, value } = decision.value;
      if (records.length === 0) return { value, offset: this.image.offset };
      const proposal = this.options.driver.proposeAt(encodeRecordList(records));
      assert(proposal.index > 0, 'raft indexes start at 1');
      try {
        const position = await proposal.applied;
        return { value, offset: position.index };
      } catch (error) {
        if (error instanceof RaftOutcomeUnknownError) this.uncertain = { index: proposal.index, term: proposal.term };
        throw error;
      }
    });
    this.writeChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run.finally(() => {
      this.pendingWrites--;
    });
  }

  /**
   * Makes sure the image reflects every committed entry before a decision: once per term, a
   * linearizable read (it waits for the new leader's first commit, which commits everything
   * from earlier terms); and after a proposal whose outcome was lost, until it is applied or
   * its term ended.
   */
  private async ensureCurrent(): Promise<void> {
    const driver = this.options.driver;
    const deadlineMs = this.options.clock.nowMs() + this.catchUpTimeoutMs;
    const term = driver.status().term;
    while (this.confirmedTerm !== term) {
      try {
        await driver.readLinearizable();
        this.confirmedTerm = term;
      } catch (error) {
        // A new leader refuses reads until its first entry commits; wait a little for it.
        if (!(error instanceof RivuletError) || error.errorName !== 'LEADER_NOT_AVAILABLE' || this.options.clock.nowMs() > deadlineMs) throw error;
        await this.sleep(5);
      }
      if (driver.status().term !== term) throw new NotControllerError(driver.status().leaderId, 'leadership changed');
    }
    while (this.uncertain !== null) {
      const status = driver.status();
      if (this.uncertain.term !== status.term || driver.lastAppliedIndex >= this.uncertain.index) {
        this.uncertain = null;
        break;
      }
      if (this.options.clock.nowMs() > deadlineMs) throw new RaftOutcomeUnknownError('an earlier metadata write is still unsettled');
      await this.sleep(10);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.options.scheduler.schedule(ms, resolve));
  }

  // ---- periodic duties of the active controller ---------------------------------------------

  private scheduleCheck(): void {
    if (this.stopped) return;
    this.timer = this.options.scheduler.schedule(this.leaseCheckIntervalMs, () => {
      this.check();
      this.scheduleCheck();
    });
  }

  /** On the first call in a new term as leader, soft state (leases, catch-up offsets) starts afresh. */
  private observeTerm(): boolean {
    const status = this.options.driver.status();
    if (status.role !== 'leader') {
      this.activeTerm = -1;
      return false;
    }
    if (this.activeTerm !== status.term) {
      const nowMs = this.options.clock.nowMs();
      this.activeTerm = status.term;
      this.activeSinceMs = nowMs;
      this.activeSinceOffset = this.image.offset;
      this.leases = new Map();
      this.caughtUpOffsets.clear();
      this.lastImbalanceCheckMs = nowMs;
      this.logger.info({ term: status.term, offset: this.image.offset }, 'became the active controller');
    }
    return true;
  }

  private check(): void {
    if (!this.observeTerm()) return;
    const nowMs = this.options.clock.nowMs();
    if (!this.fencing) {
      const expired = expiredLeases({ image: this.image, leases: this.leases, nowMs, sessionTimeoutMs: this.sessionTimeoutMs, sinceMs: this.activeSinceMs });
      if (expired.length > 0) {
        this.fencing = true;
        this.write((image) => {
          const stillLive = expired.filter((id) => image.brokers.get(id)?.state !== 'fenced');
          return mapResult(fenceBrokers(image, stillLive), (records) => ({ records, value: stillLive }));
        })
          .then((outcome) => {
            if (outcome.value.length > 0) this.logger.warn({ brokerIds: outcome.value, sessionTimeoutMs: this.sessionTimeoutMs }, 'fenced brokers whose lease expired');
          })
          .catch((error: unknown) => this.logger.warn({ err: error }, 'fencing brokers with expired leases failed; retrying'))
          .finally(() => {
            this.fencing = false;
          });
      }
    }
    if (!this.completing && nowMs - this.lastReassignmentSweepMs >= REASSIGNMENT_SWEEP_INTERVAL_MS) this.sweepReassignments(nowMs);
    if ((this.options.autoLeaderRebalance ?? true) && nowMs - this.lastImbalanceCheckMs >= this.imbalanceCheckIntervalMs) {
      this.lastImbalanceCheckMs = nowMs;
      if (electPreferredLeaders(this.image).length > 0) {
        this.electLeaders()
          .then((outcome) => {
            if (outcome.value > 0) this.logger.info({ moved: outcome.value }, 'moved leadership back to preferred replicas');
          })
          .catch((error: unknown) => this.logger.warn({ err: error }, 'preferred leader election failed'));
      }
    }
  }

  /**
   * Reassignments complete with the ISR change that allows it; this sweep catches the rest
   * (a target replica became eligible to lead after its ISR change was committed).
   */
  private sweepReassignments(nowMs: number): void {
    this.lastReassignmentSweepMs = nowMs;
    if (completeReassignments(this.image).length === 0) return;
    this.completing = true;
    this.write((image) => {
      const records = completeReassignments(image);
      return { ok: true, value: { records, value: records.length } };
    })
      .then((outcome) => {
        if (outcome.value > 0) this.logger.info({ completed: outcome.value }, 'partition reassignments completed');
      })
      .catch((error: unknown) => this.logger.warn({ err: error }, 'completing partition reassignments failed; retrying'))
      .finally(() => {
        this.completing = false;
      });
  }

  /** Counts for `cluster status`. */
  partitionHealth(): { topics: number; partitions: number; offline: number; underReplicated: number } {
    let partitions = 0;
    let offline = 0;
    let underReplicated = 0;
    for (const p of allPartitions(this.image)) {
      partitions++;
      if (p.leader === NO_LEADER) offline++;
      if (p.isr.length < p.replicas.length) underReplicated++;
    }
    return { topics: this.image.topicsByName.size, partitions, offline, underReplicated };
  }
}

function mapResult<A, B>(result: Result<A>, f: (a: A) => B): Result<B> {
  return result.ok ? { ok: true, value: f(result.value) } : result;
}
