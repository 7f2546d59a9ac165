import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noopLogger, systemClock, type Logger } from '@rivulet/common';
import {
  EMPTY_IMAGE,
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
  getPartition,
  handleAlterPartition,
  listReassignments,
  type MetadataImage,
  type MetadataRecord,
  type TopicOutcome,
} from '@rivulet/metadata';
import { RivuletError } from '@rivulet/common';
import { replicationApi, type controllerApi } from '@rivulet/proto';
import { encodeReplicaFetchAnswer } from '@rivulet/transport-grpc';
import { Broker, type BrokerOptions, type ControllerGateway } from '../broker.js';
import type { ReplicaTransport } from '../replica-fetcher.js';

/**
 * For unit tests of the broker and its front-ends: the metadata decisions of the real
 * controller (@rivulet/metadata), committed at once in this process instead of through Raft,
 * with every attached broker applying each new image before a call returns. The quorum,
 * registration and leases have their own tests; here brokers are registered and unfenced
 * from the start. Attached brokers replicate from each other through direct calls
 * (`replicaTransportFactory`) instead of gRPC.
 */
export class InProcessQuorum implements ControllerGateway {
  private current: MetadataImage = EMPTY_IMAGE;
  private readonly brokers: Broker[] = [];
  private isDeliveryHeld = false;

  constructor(brokerIds: readonly number[] = [1]) {
    const records: MetadataRecord[] = [];
    for (const brokerId of brokerIds) {
      records.push({ type: 'RegisterBroker', brokerId, incarnationId: `test-${brokerId}`, brokerEpoch: 1, endpoints: [{ name: 'grpc', host: '127.0.0.1', port: 9093 }], rack: null });
      records.push({ type: 'UnfenceBroker', brokerId, brokerEpoch: 1 });
    }
    this.current = applyRecords(EMPTY_IMAGE, records, 0);
  }

  get image(): MetadataImage {
    return this.current;
  }

  /** Attaches a broker (replacing an earlier one with its node id, e.g. after a restart). */
  async attach(broker: Broker): Promise<void> {
    const earlier = this.brokers.findIndex((b) => b.nodeId === broker.nodeId);
    if (earlier >= 0) this.brokers.splice(earlier, 1);
    this.brokers.push(broker);
    await broker.applyMetadata(this.current);
  }

  /** Commits records as one entry and lets every broker apply the new image (unless held). */
  async commit(records: readonly MetadataRecord[]): Promise<number> {
    this.current = applyRecords(this.current, records, this.current.offset + 1);
    if (records.length === 0) this.current = { ...this.current, offset: this.current.offset + 1 };
    if (!this.isDeliveryHeld) for (const broker of this.brokers) await broker.applyMetadata(this.current);
    return this.current.offset;
  }

  /**
   * Holds new images back from the brokers, as a slow metadata stream would: commits go on,
   * brokers keep their image until the returned function delivers the newest one.
   */
  holdDelivery(): () => Promise<void> {
    this.isDeliveryHeld = true;
    return async () => {
      this.isDeliveryHeld = false;
      for (const broker of this.brokers) await broker.applyMetadata(this.current);
    };
  }

  /** Changes a broker's advertised endpoints (e.g. once its Kafka listener has a port). */
  setEndpoints(brokerId: number, endpoints: readonly { name: string; host: string; port: number }[]): Promise<number> {
    const broker = this.current.brokers.get(brokerId);
    if (broker === undefined) throw new Error(`broker ${brokerId} is not registered`);
    const brokerEpoch = broker.brokerEpoch + 1;
    return this.commit([
      { type: 'RegisterBroker', brokerId, incarnationId: broker.incarnationId, brokerEpoch, endpoints: [...endpoints], rack: broker.rack },
      { type: 'UnfenceBroker', brokerId, brokerEpoch },
    ]);
  }

  private async respond(decided: { records: MetadataRecord[]; outcomes: TopicOutcome[] }) {
    const metadataOffset = decided.records.length > 0 ? await this.commit(decided.records) : this.current.offset;
    const results = decided.outcomes.map((o) => ({ name: o.name, topicId: o.topicId, errorCode: o.error?.code ?? 0, errorMessage: o.error?.message ?? '' }));
    return { results, metadataOffset };
  }

  async allocateProducerIds(request: controllerApi.AllocateProducerIdsRequest): Promise<controllerApi.AllocateProducerIdsResponse> {
    const decided = allocateProducerIds(this.current, request.brokerId, request.brokerEpoch);
    if (!decided.ok) throw decided.error;
    const metadataOffset = await this.commit(decided.value.records);
    return { producerIdStart: decided.value.start, producerIdLen: decided.value.length, metadataOffset };
  }

  createTopics(request: controllerApi.CreateTopicsRequest): Promise<controllerApi.CreateTopicsResponse> {
    const specs = request.topics.map((t) => ({ ...t, configs: Object.fromEntries(t.configs.map((c) => [c.key, c.value])) }));
    return this.respond(
      decideTopics(this.current, specs, (image, spec) => {
        const topicId = randomUUID();
        return { decision: createTopic(image, spec, topicId), topicId };
      }, request.validateOnly),
    );
  }

  deleteTopics(request: controllerApi.DeleteTopicsRequest): Promise<controllerApi.DeleteTopicsResponse> {
    return this.respond(
      decideTopics(this.current, request.names.map((name) => ({ name })), (image, { name }) => ({ decision: deleteTopic(image, name), topicId: image.topicsByName.get(name)?.topicId ?? '' })),
    );
  }

  alterTopicConfigs(request: controllerApi.AlterTopicConfigsRequest): Promise<controllerApi.AlterTopicConfigsResponse> {
    const topics = request.topics.map((t) => ({ name: t.name, changes: t.changes.map((c) => ({ key: c.key, value: c.remove ? null : c.value })) }));
    return this.respond(
      decideTopics(
        this.current,
        topics,
        (image, t) => ({ decision: alterTopicConfigs(image, t.name, t.changes), topicId: image.topicsByName.get(t.name)?.topicId ?? '' }),
        request.validateOnly,
      ),
    );
  }

  createPartitions(request: controllerApi.CreatePartitionsRequest): Promise<controllerApi.CreatePartitionsResponse> {
    return this.respond(
      decideTopics(
        this.current,
        request.topics,
        (image, u) => ({ decision: createPartitions(image, u.name, u.count), topicId: image.topicsByName.get(u.name)?.topicId ?? '' }),
        request.validateOnly,
      ),
    );
  }

  async alterPartitionReassignments(request: controllerApi.AlterPartitionReassignmentsRequest): Promise<controllerApi.AlterPartitionReassignmentsResponse> {
    const entries = request.partitions.map((p) => ({ topic: p.topic, partition: p.partition, targetReplicas: p.cancel ? null : [...p.targetReplicas] }));
    const { records, outcomes } = decideReassignments(this.current, entries);
    const metadataOffset = records.length > 0 ? await this.commit(records) : this.current.offset;
    const results = outcomes.map((o) => ({ topic: o.topic, partition: o.partition, errorCode: o.error?.code ?? 0, errorMessage: o.error?.message ?? '' }));
    return { results, metadataOffset };
  }

  listPartitionReassignments(request: controllerApi.ListPartitionReassignmentsRequest): Promise<controllerApi.ListPartitionReassignmentsResponse> {
    const reassignments = listReassignments(this.current, request.topics).map((r) => ({
      topic: r.topic,
      partition: r.partition,
      replicas: [...r.replicas],
      addingReplicas: [...r.addingReplicas],
      removingReplicas: [...r.removingReplicas],
      isr: [...r.isr],
      leaderId: r.leader,
      addingNotInIsr: [...r.addingNotInIsr],
    }));
    const topicErrors = request.topics
      .filter((name) => !this.current.topicsByName.has(name))
      .map((name) => {
        const error = new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist`);
        return { name, topicId: '', errorCode: error.code, errorMessage: error.message };
      });
    return Promise.resolve({ reassignments, topicErrors, metadataOffset: this.current.offset });
  }

  async drainBroker(request: controllerApi.DrainBrokerRequest): Promise<controllerApi.DrainBrokerResponse> {
    const drained = drainBroker(this.current, request.brokerId);
    if (!drained.ok) return { errorCode: drained.error.code, errorMessage: drained.error.message, started: [], metadataOffset: this.current.offset };
    const metadataOffset = drained.value.records.length > 0 ? await this.commit(drained.value.records) : this.current.offset;
    const started = drained.value.moves.map((m) => ({ topic: m.topic, partition: m.partition, targetReplicas: [...m.targetReplicas], leaderId: getPartition(this.current, m.topicId, m.partition)!.leader }));
    return { errorCode: 0, errorMessage: '', started, metadataOffset };
  }

  async alterPartition(request: controllerApi.AlterPartitionRequest): Promise<controllerApi.AlterPartitionResponse> {
    const decided = handleAlterPartition(this.current, { ...request, newIsr: [...request.newIsr] });
    if (!decided.ok) {
      return { errorCode: decided.error.code, errorMessage: decided.error.message, leaderId: -1, leaderEpoch: -1, partitionEpoch: -1, isr: [], metadataOffset: this.current.offset };
    }
    const changed = applyRecords(this.current, decided.value, this.current.offset);
    const metadataOffset = await this.commit([...decided.value, ...completeReassignments(changed, [{ topicId: request.topicId, partition: request.partition }])]);
    const p = getPartition(this.current, request.topicId, request.partition)!;
    return { errorCode: 0, errorMessage: '', leaderId: p.leader, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, isr: [...p.isr], metadataOffset };
  }

  /** The epoch the quorum holds for `brokerId` (what its heartbeats would carry). */
  brokerEpochOf(brokerId: number): number {
    return this.current.brokers.get(brokerId)?.brokerEpoch ?? -1;
  }

  /** Replica transports that call the attached leader broker directly. */
  readonly replicaTransportFactory = (leaderId: number): ReplicaTransport => {
    const leader = (): Broker => {
      const broker = this.brokers.find((b) => b.nodeId === leaderId);
      if (broker === undefined) throw new RivuletError('NETWORK_EXCEPTION', `broker ${leaderId} is not attached to this quorum`);
      return broker;
    };
    return {
      // Through the wire encoding, as gRPC carries it.
      replicaFetch: async (request) => replicationApi.ReplicaFetchResponse.decode(encodeReplicaFetchAnswer(await leader().replicaFetch(request))),
      offsetForLeaderEpoch: (request) => Promise.resolve(leader().offsetForLeaderEpochAsLeader(request)),
      close: () => undefined,
    };
  };

  /** Brings replicas into the ISR as a leader's AlterPartition would, completing reassignments it allows. */
  expandIsr(topic: string, partition: number, isr: readonly number[]): Promise<number> {
    const topicId = this.current.topicsByName.get(topic)!.topicId;
    const changed = applyRecords(this.current, [{ type: 'PartitionChange', topicId, partition, isr: [...isr] }], this.current.offset);
    return this.commit([{ type: 'PartitionChange', topicId, partition, isr: [...isr] }, ...completeReassignments(changed, [{ topicId, partition }])]);
  }
}

export interface TestBroker {
  readonly broker: Broker;
  readonly quorum: InProcessQuorum;
  readonly dataDir: string;
  /** Stops the broker and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Options of a test broker following `quorum` on `dataDir`: no auto-creation, retention off,
 * a lease that holds, replication through the quorum's in-process transport; `overrides` win.
 */
export function testBrokerOptions(quorum: InProcessQuorum, nodeId: number, dataDir: string, overrides: Partial<BrokerOptions> = {}): BrokerOptions {
  return {
    nodeId,
    clusterId: 'test-cluster',
    dataDir,
    flushPolicy: 'os',
    autoCreateTopics: false,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    topicDefaults: { retentionMs: -1, retentionBytes: -1, messageMaxBytes: 1_048_588 },
    retentionCheckIntervalMs: 60_000,
    fetchMaxBytes: 52_428_800,
    version: 'test',
    roles: 'broker',
    controller: quorum,
    leaseValid: () => true,
    brokerEpoch: () => quorum.brokerEpochOf(nodeId),
    replicaTransportFactory: quorum.replicaTransportFactory,
    clock: systemClock,
    logger: noopLogger,
    ...overrides,
  };
}

/** A broker (node 1) on a fresh temporary data directory, attached to an InProcessQuorum. */
export async function startTestBroker(overrides: Partial<BrokerOptions> & { logger?: Logger } = {}): Promise<TestBroker> {
  const dataDir = overrides.dataDir ?? (await mkdtemp(join(tmpdir(), 'rivulet-broker-')));
  const quorum = new InProcessQuorum([overrides.nodeId ?? 1]);
  const broker = await Broker.start(testBrokerOptions(quorum, overrides.nodeId ?? 1, dataDir, overrides));
  await quorum.attach(broker);
  return {
    broker,
    quorum,
    dataDir,
    stop: async () => {
      await broker.stop();
      if (overrides.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
