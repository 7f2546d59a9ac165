import { Admin as PlatformaticAdmin, Consumer as PlatformaticConsumer, MessagesStreamModes, stringDeserializers } from '@platformatic/kafka';
import { DEFAULT_GROUP_CONFIG, DEFAULT_GROUP_COORDINATOR_SETTINGS } from '@rivulet/broker';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasKcat, runKcat } from './testing/kcat.js';
import { startTestNode, type TestNode } from './testing/test-node.js';

/**
 * Consumer groups with real, unmodified Kafka clients: KafkaJS (non-flexible JoinGroup ≤ 5),
 * @platformatic/kafka (flexible versions only) and kcat -G (librdkafka 2.0.2). The clients run
 * the assignors; the broker's coordinator runs membership, generations and committed offsets
 * in __consumer_offsets. Short group timeouts keep rebalances quick.
 */
let node: TestNode;

const kafka = (clientId: string): Kafka =>
  new Kafka({ brokers: [node.bootstrap], clientId, logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 } });

beforeAll(async () => {
  node = await startTestNode({
    groupCoordinator: {
      ...DEFAULT_GROUP_COORDINATOR_SETTINGS,
      offsetsTopicPartitions: 4,
      offsetsTopicReplicationFactor: 1,
      groupConfig: { ...DEFAULT_GROUP_CONFIG, initialRebalanceDelayMs: 200, minSessionTimeoutMs: 1_000 },
    },
  });
});

afterAll(async () => {
  await node.stop();
});

/** Polls `check` every 50 ms until it holds; fails with `what` after `timeoutMs`. */
async function eventually(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function produceValues(topic: string, partitions: number, values: string[]): Promise<void> {
  const producer = kafka('group-test-producer').producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: values.map((value, i) => ({ value, partition: i % partitions })) });
  await producer.disconnect();
}

interface Member {
  readonly consumer: Consumer;
  /** The member's partitions of the test topic after its latest join. */
  partitions: number[];
}

describe('KafkaJS consumer group', () => {
  it('three members share six partitions, rebalance when one leaves, commit offsets that admin reads back, and the empty group can be deleted', async () => {
    const topic = 'kjs-group-topic';
    const groupId = 'kjs-group';
    await node.broker.createTopics([{ name: topic, partitions: 6, replicationFactor: 1, configs: {} }], false);
    const firstValues = Array.from({ length: 60 }, (_, i) => `first-${i}`);
    await produceValues(topic, 6, firstValues);

    const consumed = new Set<string>();
    const members: Member[] = [];
    for (let i = 0; i < 3; i++) {
      const consumer = kafka(`kjs-member-${i}`).consumer({ groupId, sessionTimeout: 6_000, rebalanceTimeout: 10_000, heartbeatInterval: 200, maxWaitTimeInMs: 100 });
      const member: Member = { consumer, partitions: [] };
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        member.partitions = [...(event.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          consumed.add(message.value!.toString());
        },
      });
      members.push(member);
    }
    const shareEvenly = (live: Member[], each: number): boolean =>
      live.every((m) => m.partitions.length === each) && new Set(live.flatMap((m) => m.partitions)).size === 6;
    await eventually('each of three members owns two distinct partitions', () => shareEvenly(members, 2));
    await eventually('every first record is consumed', () => firstValues.every((v) => consumed.has(v)));

    const admin = kafka('kjs-admin').admin();
    await admin.connect();
    const stable = await admin.describeGroups([groupId]);
    expect(stable.groups[0]).toMatchObject({ groupId, state: 'Stable', protocolType: 'consumer', errorCode: 0 });
    expect(stable.groups[0]!.members).toHaveLength(3);

    const leaving = members.pop()!;
    await leaving.consumer.disconnect();
    await eventually('the two members left own three partitions each', () => shareEvenly(members, 3));
    const secondValues = Array.from({ length: 60 }, (_, i) => `second-${i}`);
    await produceValues(topic, 6, secondValues);
    await eventually('every second record is consumed by the remaining members', () => secondValues.every((v) => consumed.has(v)));

    for (const member of members) await member.consumer.disconnect();
    // Each partition got 20 records; the members committed what they processed before leaving.
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(committed!.partitions.map((p) => Number(p.offset)).sort()).toEqual([20, 20, 20, 20, 20, 20]);
    const listed = await admin.listGroups();
    expect(listed.groups).toContainEqual({ groupId, protocolType: 'consumer' });
    const empty = await admin.describeGroups([groupId]);
    expect(empty.groups[0]).toMatchObject({ groupId, state: 'Empty', members: [] });

    await admin.deleteGroups([groupId]);
    const deleted = await admin.describeGroups([groupId]);
    expect(deleted.groups[0]!.state).toBe('Dead');
    const [afterDelete] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(afterDelete!.partitions.every((p) => p.offset === '-1')).toBe(true);
    await admin.disconnect();
  });

  it('a restarted member of the group continues from the committed offsets', async () => {
    const topic = 'kjs-resume-topic';
    const groupId = 'kjs-resume';
    await node.broker.createTopics([{ name: topic, partitions: 2, replicationFactor: 1, configs: {} }], false);
    await produceValues(topic, 2, ['a', 'b', 'c', 'd']);
    const runOnce = async (expectedCount: number): Promise<string[]> => {
      const seen: string[] = [];
      const consumer = kafka('kjs-resume-member').consumer({ groupId, sessionTimeout: 6_000, heartbeatInterval: 200, maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(message.value!.toString());
        },
      });
      await eventually(`${expectedCount} records are consumed`, () => seen.length >= expectedCount);
      await consumer.disconnect();
      return seen.sort();
    };
    expect(await runOnce(4)).toEqual(['a', 'b', 'c', 'd']);
    await produceValues(topic, 2, ['e', 'f']);
    expect(await runOnce(2)).toEqual(['e', 'f']);
  });
});

describe('KafkaJS fetch from an offset by timestamp', () => {
  it('finds the first offset at or after a time with fetchTopicOffsetsByTimestamp and a group member reads from there after seek', async () => {
    const topic = 'kjs-by-time';
    await node.broker.createTopics([{ name: topic, partitions: 1, replicationFactor: 1, configs: {} }], false);
    const producer = kafka('kjs-by-time-producer').producer();
    await producer.connect();
    const baseMs = Date.now() - 60_000;
    // Ten records one second apart, in separate batches so that each batch has its own time.
    for (let i = 0; i < 10; i++) await producer.send({ topic, acks: -1, messages: [{ value: `t${i}`, timestamp: String(baseMs + i * 1000) }] });
    await producer.disconnect();
    const admin = kafka('kjs-by-time-admin').admin();
    await admin.connect();
    const [found] = await admin.fetchTopicOffsetsByTimestamp(topic, baseMs + 6_500);
    expect(found).toMatchObject({ partition: 0, offset: '7' });
    await admin.disconnect();

    const seen: string[] = [];
    const consumer = kafka('kjs-by-time-member').consumer({ groupId: 'kjs-by-time', sessionTimeout: 6_000, heartbeatInterval: 200, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value!.toString());
      },
    });
    consumer.seek({ topic, partition: 0, offset: found!.offset });
    await eventually('the records from offset 7 on are consumed', () => seen.length >= 3);
    await consumer.disconnect();
    expect(seen).toEqual(['t7', 't8', 't9']);
  });
});

describe('kcat balanced consumer (-G)', () => {
  it.skipIf(!hasKcat)('consumes every partition through a group and stores offsets, so the next run reads only new records', async () => {
    const topic = 'kcat-group-topic';
    await node.broker.createTopics([{ name: topic, partitions: 3, replicationFactor: 1, configs: {} }], false);
    const lines = Array.from({ length: 30 }, (_, i) => `${i % 3}:line-${i}`);
    await runKcat(['-b', node.bootstrap, '-P', '-t', topic, '-K:'], lines.join('\n') + '\n');
    const consume = (): Promise<string> =>
      runKcat(['-b', node.bootstrap, '-G', 'kcat-group', topic, '-X', 'auto.offset.reset=earliest', '-X', 'session.timeout.ms=6000', '-e', '-q', '-f', '%s\\n'], '', 60_000);
    const first = (await consume()).trim().split('\n').sort();
    expect(first).toEqual(lines.map((l) => l.split(':')[1]).sort());

    await runKcat(['-b', node.bootstrap, '-P', '-t', topic, '-K:'], '0:late-a\n1:late-b\n');
    const second = (await consume()).trim().split('\n').sort();
    expect(second).toEqual(['late-a', 'late-b']);
  });
});

describe('@platformatic/kafka consumer group', () => {
  it('consumes through a group with autocommit, and its admin lists and describes the group', async () => {
    const topic = 'plat-group-topic';
    const groupId = 'plat-group';
    await node.broker.createTopics([{ name: topic, partitions: 3, replicationFactor: 1, configs: {} }], false);
    const values = Array.from({ length: 30 }, (_, i) => `plat-${i}`);
    await produceValues(topic, 3, values);
    const consumer = new PlatformaticConsumer({ groupId, clientId: 'plat-member', bootstrapBrokers: [node.bootstrap], deserializers: stringDeserializers });
    const seen = new Set<string>();
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: true, sessionTimeout: 6_000, heartbeatInterval: 200 });
    stream.on('data', (message: { value: string }) => seen.add(message.value));
    await eventually('every record is consumed', () => values.every((v) => seen.has(v)));

    const admin = new PlatformaticAdmin({ clientId: 'plat-admin', bootstrapBrokers: [node.bootstrap] });
    const listed = await admin.listGroups();
    expect(listed.get(groupId)).toMatchObject({ id: groupId, protocolType: 'consumer' });
    const described = await admin.describeGroups({ groups: [groupId] });
    const group = described.get(groupId)!;
    expect(group.state).toBe('STABLE');
    expect(group.members.size).toBe(1);
    await stream.close();
    await consumer.close();
    await admin.close();
  });
});
