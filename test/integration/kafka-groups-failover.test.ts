import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupPartition } from '@rivulet/group';
import { LocalCluster, waitFor } from '@rivulet/testkit';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A consumer group of three unmodified KafkaJS members over a 12-partition topic with
// replication factor 3, on 3 controllers and 3 brokers. The broker coordinating the group
// (the leader of its __consumer_offsets partition) is killed with SIGKILL while records keep
// coming: the group must go on by itself with the offsets it committed there, and a checker
// proves from the history that every acknowledged record was processed at least once.

const TOPIC = 'group-orders';
const GROUP_ID = 'order-processors';
const PARTITIONS = 12;
const OFFSETS_PARTITIONS = 6;

describe('a KafkaJS consumer group through a kill -9 of its coordinator', () => {
  let baseDir = '';
  let cluster: LocalCluster;

  beforeAll(async () => {
    baseDir = await mkdtemp(join(tmpdir(), 'rivulet-group-failover-'));
    cluster = await LocalCluster.start({
      baseDir,
      controllers: 3,
      brokers: 3,
      kafka: true,
      args: ['--group-initial-rebalance-delay-ms', '300', '--group-min-session-timeout-ms', '1000', '--offsets-topic-partitions', String(OFFSETS_PARTITIONS)],
    });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    if (baseDir !== '') await rm(baseDir, { recursive: true, force: true });
  });

  it('shares the partitions evenly, and after the coordinator dies processes every acknowledged record at least once, skipping none', async () => {
    const retry = { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 };
    const kafka = new Kafka({ clientId: 'group-failover', brokers: cluster.brokers().map((b) => b.kafkaAddress!), logLevel: logLevel.NOTHING, retry });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }] });

    // History: what the producer was told, and what the members processed.
    const acknowledged = new Map<string, string>(); // `${partition}@${offset}` -> value
    const processed = new Map<string, string>();
    let deliveries = 0;
    const producer = kafka.producer({ allowAutoTopicCreation: false, retry });
    await producer.connect();
    const produce = async (prefix: string, count: number): Promise<void> => {
      for (let i = 0; i < count; i += 60) {
        const messages = Array.from({ length: Math.min(60, count - i) }, (_, j) => ({ partition: (i + j) % PARTITIONS, value: `${prefix}-${i + j}` }));
        const results = await producer.send({ topic: TOPIC, acks: -1, messages });
        for (const result of results) {
          // One send per partition per call: its records got consecutive offsets from baseOffset.
          const values = messages.filter((m) => m.partition === result.partition).map((m) => m.value);
          values.forEach((value, k) => acknowledged.set(`${result.partition}@${Number(result.baseOffset) + k}`, value));
        }
      }
    };

    const members: { consumer: Consumer; partitions: number[] }[] = [];
    for (let i = 0; i < 3; i++) {
      const consumer = kafka.consumer({ groupId: GROUP_ID, sessionTimeout: 6_000, rebalanceTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 100, retry });
      const member = { consumer, partitions: [] as number[] };
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        member.partitions = [...(event.payload.memberAssignment[TOPIC] ?? [])];
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
      // Offsets are committed after eachMessage returns: commits follow processing.
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          deliveries += 1;
          processed.set(`${partition}@${message.offset}`, message.value!.toString());
        },
      });
      members.push(member);
    }
    await waitFor(
      'three members owning four distinct partitions each',
      () => members.every((m) => m.partitions.length === 4) && new Set(members.flatMap((m) => m.partitions)).size === PARTITIONS || undefined,
      30_000,
    );

    await produce('before', 600);
    const allProcessed = (): true | undefined => [...acknowledged.keys()].every((k) => processed.has(k)) || undefined;
    await waitFor('the first 600 records processed', allProcessed, 30_000);

    const offsetsPartition = groupPartition(GROUP_ID, OFFSETS_PARTITIONS);
    const offsetsTopic = await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] });
    const coordinatorId = offsetsTopic.topics[0]!.partitions.find((p) => p.partitionId === offsetsPartition)!.leader;
    await cluster.node(coordinatorId).kill();

    await produce('after', 600);
    await waitFor('every acknowledged record processed after the coordinator died', allProcessed, 60_000);
    for (const member of members) await member.consumer.disconnect();
    await producer.disconnect();

    // The checker: every acknowledged record processed, with the value acknowledged at its offset.
    expect(acknowledged.size).toBe(1200);
    for (const [at, value] of acknowledged) expect(processed.get(at), at).toBe(value);
    // At least once, not from scratch: had the new coordinator lost the commits, the group would
    // have processed the first 600 records again.
    expect(deliveries - processed.size).toBeLessThan(600);
    // Offsets committed at the new coordinator cover everything: a restarted group skips nothing and repeats nothing.
    const [committed] = await admin.fetchOffsets({ groupId: GROUP_ID, topics: [TOPIC] });
    const endOffsets = await admin.fetchTopicOffsets(TOPIC);
    for (const p of committed!.partitions) expect(p.offset, `partition ${p.partition}`).toBe(endOffsets.find((e) => e.partition === p.partition)!.high);
    await admin.disconnect();
  }, 150_000);
});
