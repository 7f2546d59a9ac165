import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@rivulet/common';
import { DEFAULT_GROUP_CONFIG, type JoinGroupRequest } from '@rivulet/group';
import { encodeRecordBatch, splitBatches } from '@rivulet/records';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker, type BrokerOptions } from './broker.js';
import { GROUP_OFFSETS_TOPIC } from './group-service.js';
import { InProcessQuorum, testBrokerOptions } from './testing/in-process-quorum.js';

// Three brokers in this process on their own LevelDB directories, following one in-process
// quorum; the offsets topic is replicated between them like any other topic.

const BROKER_IDS = [1, 2, 3] as const;
const OFFSETS_PARTITIONS = 3;

let quorum: InProcessQuorum;
let baseDir: string;
const brokers = new Map<number, Broker>();

function options(nodeId: number): BrokerOptions {
  return testBrokerOptions(quorum, nodeId, join(baseDir, `broker-${nodeId}`), {
    defaultReplicationFactor: 3,
    replicaLagTimeMaxMs: 400,
    groupCoordinator: {
      offsetsTopicPartitions: OFFSETS_PARTITIONS,
      offsetsTopicReplicationFactor: 3,
      offsetsCommitTimeoutMs: 5_000,
      groupConfig: { ...DEFAULT_GROUP_CONFIG, initialRebalanceDelayMs: 0, minSessionTimeoutMs: 100 },
    },
  });
}

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

beforeEach(async () => {
  baseDir = await mkdtemp(join(tmpdir(), 'rivulet-groups-'));
  quorum = new InProcessQuorum(BROKER_IDS);
  for (const id of BROKER_IDS) {
    const broker = await Broker.start(options(id));
    brokers.set(id, broker);
    await quorum.attach(broker);
  }
});

afterEach(async () => {
  for (const broker of brokers.values()) await broker.stop();
  brokers.clear();
  await rm(baseDir, { recursive: true, force: true });
});

function join1(groupId: string, memberId = ''): JoinGroupRequest {
  return {
    groupId,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    memberId,
    groupInstanceId: null,
    protocolType: 'test',
    protocols: [{ name: 'only', metadata: new Uint8Array([1, 2, 3]) }],
    requireKnownMemberId: false,
    reason: null,
    clientId: 'group-test',
    clientHost: '127.0.0.1',
  };
}

/** One member joins and syncs; its generation is then stable. */
async function joinAlone(coordinator: Broker, groupId: string): Promise<{ memberId: string; generationId: number }> {
  const joined = await coordinator.groups.joinGroup(join1(groupId));
  expect(joined.errorCode).toBe(0);
  expect(joined.leader).toBe(joined.memberId);
  const synced = await coordinator.groups.syncGroup({
    groupId,
    generationId: joined.generationId,
    memberId: joined.memberId,
    groupInstanceId: null,
    protocolType: 'test',
    protocolName: 'only',
    assignments: [{ memberId: joined.memberId, assignment: new Uint8Array([9]) }],
  });
  expect(synced.errorCode).toBe(0);
  expect([...synced.assignment]).toEqual([9]);
  return { memberId: joined.memberId, generationId: joined.generationId };
}

function offsetsRegistration(partition: number) {
  return quorum.image.topicsByName.get(GROUP_OFFSETS_TOPIC)!.partitions.get(partition)!;
}

describe('group coordinator on brokers', () => {
  it('creates the compacted offsets topic on the first FindCoordinator and names the leader of the group\'s partition', async () => {
    const coordinatorId = await brokers.get(1)!.findGroupCoordinator('orders');
    const topic = quorum.image.topicsByName.get(GROUP_OFFSETS_TOPIC)!;
    expect(topic.partitions.size).toBe(OFFSETS_PARTITIONS);
    expect(topic.configs.get('cleanup.policy')).toBe('compact');
    const partition = brokers.get(1)!.groups.partitionFor('orders');
    expect(coordinatorId).toBe(offsetsRegistration(partition).leader);
    expect(offsetsRegistration(partition).replicas).toHaveLength(3);
    // Every broker gives the same answer, and a second lookup creates nothing new.
    for (const id of BROKER_IDS) expect(await brokers.get(id)!.findGroupCoordinator('orders')).toBe(coordinatorId);
  });

  it('answers NOT_COORDINATOR on a broker that does not lead the group\'s partition', async () => {
    const coordinatorId = await brokers.get(1)!.findGroupCoordinator('billing');
    const other = BROKER_IDS.find((id) => id !== coordinatorId)!;
    const answer = await brokers.get(other)!.groups.joinGroup(join1('billing'));
    expect(answer.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });

  it('keeps committed offsets and membership across a move of the coordinator to another replica', async () => {
    const groupId = 'payments';
    const coordinatorId = await brokers.get(1)!.findGroupCoordinator(groupId);
    const coordinator = brokers.get(coordinatorId)!;
    await until('the coordinator has loaded its partition', () => coordinator.groups.describeGroups([groupId])[0]!.errorCode === 0);
    const { memberId, generationId } = await joinAlone(coordinator, groupId);
    const committed = await coordinator.groups.commitOffsets({
      groupId,
      generationId,
      memberId,
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [{ name: 'events', partitions: [{ partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: 3, committedMetadata: 'm' }] }],
    });
    expect(committed.topics[0]!.partitions[0]!.errorCode).toBe(0);

    const partition = coordinator.groups.partitionFor(groupId);
    const registration = offsetsRegistration(partition);
    const next = registration.isr.find((id) => id !== coordinatorId)!;
    const topicId = quorum.image.topicsByName.get(GROUP_OFFSETS_TOPIC)!.topicId;
    await quorum.commit([{ type: 'PartitionChange', topicId, partition, leader: next }]);

    const moved = brokers.get(next)!;
    expect(await moved.findGroupCoordinator(groupId)).toBe(next);
    await until('the new coordinator has loaded the partition', () => moved.groups.describeGroups([groupId])[0]!.errorCode === 0);
    const fetched = moved.groups.fetchOffsets({ groupId, topics: [{ name: 'events', partitionIndexes: [0] }], requireStable: false });
    expect(fetched.topics[0]!.partitions[0]).toMatchObject({ committedOffset: 42, committedLeaderEpoch: 3, metadata: 'm', errorCode: 0 });
    const described = moved.groups.describeGroups([groupId])[0]!;
    expect(described).toMatchObject({ groupState: 'Stable', protocolType: 'test', protocolData: 'only' });
    expect(described.members.map((m) => m.memberId)).toEqual([memberId]);
    // The member goes on heartbeating its generation at the new coordinator.
    expect(moved.groups.heartbeat({ groupId, generationId, memberId, groupInstanceId: null }).errorCode).toBe(0);

    // The old coordinator no longer answers for the group.
    expect(coordinator.groups.heartbeat({ groupId, generationId, memberId, groupInstanceId: null }).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });

  it('writes the commits of many groups that arrive together as one batch, and answers each', async () => {
    const coordinatorId = await brokers.get(1)!.findGroupCoordinator('simple-0');
    const coordinator = brokers.get(coordinatorId)!;
    const partition = coordinator.groups.partitionFor('simple-0');
    const groupIds = Array.from({ length: 200 }, (_, i) => `simple-${i}`).filter((g) => coordinator.groups.partitionFor(g) === partition);
    expect(groupIds.length).toBeGreaterThan(20);
    await until('the coordinator has loaded its partition', () => coordinator.groups.describeGroups([groupIds[0]!])[0]!.errorCode === 0);
    const logEndBefore = coordinator.partitionStats().find((s) => s.topic === GROUP_OFFSETS_TOPIC && s.partition === partition)!.logEndOffset;
    const results = await Promise.all(
      groupIds.map((groupId, i) =>
        coordinator.groups.commitOffsets({
          groupId,
          generationId: -1,
          memberId: '',
          groupInstanceId: null,
          retentionTimeMs: -1,
          topics: [{ name: 'events', partitions: [{ partitionIndex: 0, committedOffset: i, committedLeaderEpoch: -1, committedMetadata: null }] }],
        }),
      ),
    );
    expect(results.every((r) => r.topics[0]!.partitions[0]!.errorCode === 0)).toBe(true);
    groupIds.forEach((groupId, i) => {
      const fetched = coordinator.groups.fetchOffsets({ groupId, topics: [{ name: 'events', partitionIndexes: [0] }], requireStable: false });
      expect(fetched.topics[0]!.partitions[0]!.committedOffset).toBe(i);
    });
    // One record per commit, all in few batches: the log grew by the commits, its batch count by far less.
    const stats = coordinator.partitionStats().find((s) => s.topic === GROUP_OFFSETS_TOPIC && s.partition === partition)!;
    expect(stats.logEndOffset - logEndBefore).toBe(groupIds.length);
    const log = await coordinator.fetch({
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 24,
      topics: [{ name: GROUP_OFFSETS_TOPIC, partitions: [{ partition, fetchOffset: logEndBefore, partitionMaxBytes: 1 << 24, currentLeaderEpoch: -1 }] }],
    });
    expect(splitBatches(log.topics[0]!.partitions[0]!.records).batches.length).toBeLessThan(groupIds.length / 4);
  });

  it('refuses client produce to the internal topic and marks it internal in metadata', async () => {
    await brokers.get(1)!.findGroupCoordinator('any');
    const records = await encodeRecordBatch({ records: [{ key: Buffer.from('k'), value: Buffer.from('v') }] });
    const response = await brokers.get(1)!.produce({ acks: -1, timeoutMs: 1_000, topics: [{ name: GROUP_OFFSETS_TOPIC, partitions: [{ partition: 0, records }] }] });
    expect(response.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    const metadata = await brokers.get(1)!.metadata({ topics: [GROUP_OFFSETS_TOPIC], allowAutoTopicCreation: false });
    expect(metadata.topics[0]!.isInternal).toBe(true);
  });
});
