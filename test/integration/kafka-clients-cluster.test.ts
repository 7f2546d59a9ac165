import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin as PlatformaticAdmin, Consumer as PlatformaticConsumer, MessagesStreamModes, ProduceAcks, Producer as PlatformaticProducer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { LocalCluster, waitFor } from '@rivulet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasKcat, runKcat } from '@rivulet/kafka/testing/kcat';

// kcat (librdkafka) and @platformatic/kafka against 3 controllers and 3 brokers, topics with
// replication factor 3: metadata lists every broker with each partition's replicas and ISR,
// acks=all produce goes to the partition leaders, and consumer groups run on the coordinator
// that leads the group's replicated __consumer_offsets partition. (KafkaJS runs against the
// same shape in kafka-failover.test.ts and kafka-groups-failover.test.ts.)

describe('kcat and @platformatic/kafka against a replicated cluster', () => {
  let baseDir = '';
  let cluster: LocalCluster;
  let bootstrap = '';

  beforeAll(async () => {
    baseDir = await mkdtemp(join(tmpdir(), 'rivulet-kafka-cluster-'));
    cluster = await LocalCluster.start({
      baseDir,
      controllers: 3,
      brokers: 3,
      kafka: true,
      args: ['--group-initial-rebalance-delay-ms', '100', '--offsets-topic-partitions', '3', '--default-replication-factor', '3'],
    });
    bootstrap = cluster.brokers().map((b) => b.kafkaAddress!).join(',');
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    if (baseDir !== '') await rm(baseDir, { recursive: true, force: true });
  });

  it.skipIf(!hasKcat)('kcat: -L lists three brokers and three replicas in sync; acks=all produce and a -G group read everything back', async () => {
    const topic = 'kcat-replicated';
    const admin = new PlatformaticAdmin({ clientId: 'cluster-test', bootstrapBrokers: bootstrap.split(',') });
    await admin.createTopics({ topics: [topic], partitions: 3, replicas: 3 });
    await admin.close();
    const listing = await waitFor(
      'every partition with three replicas in sync',
      async () => {
        const text = await runKcat(['-b', bootstrap, '-L', '-t', topic]);
        return (text.match(/isrs: \d+,\d+,\d+/g) ?? []).length === 3 ? text : undefined;
      },
      20_000,
      200,
    );
    expect(listing).toContain('3 brokers:');
    expect(listing).toContain(`topic "${topic}" with 3 partitions`);

    const lines = Array.from({ length: 90 }, (_, i) => `${i}:value-${i}`);
    await runKcat(['-b', bootstrap, '-P', '-t', topic, '-K:', '-X', 'acks=all', '-z', 'lz4'], lines.join('\n') + '\n');
    const consumed = await runKcat(['-b', bootstrap, '-G', 'kcat-cluster-group', topic, '-X', 'auto.offset.reset=earliest', '-e', '-q', '-f', '%k=%s\\n'], '', 60_000);
    expect(consumed.trim().split('\n').sort()).toEqual(lines.map((l) => l.replace(':', '=')).sort());
  }, 90_000);

  it('@platformatic/kafka: acks=all producer, a consumer group and the admin\'s view of it', async () => {
    const topic = 'platformatic-replicated';
    const groupId = 'platformatic-cluster-group';
    const brokers = bootstrap.split(',');
    const admin = new PlatformaticAdmin({ clientId: 'cluster-test', bootstrapBrokers: brokers });
    const producer = new PlatformaticProducer({ clientId: 'cluster-test', bootstrapBrokers: brokers, serializers: stringSerializers, acks: ProduceAcks.ALL });
    const consumer = new PlatformaticConsumer({ groupId, clientId: 'cluster-test', bootstrapBrokers: brokers, deserializers: stringDeserializers });
    try {
      await admin.createTopics({ topics: [topic], partitions: 3, replicas: 3 });
      const values = Array.from({ length: 60 }, (_, i) => `record-${i}`);
      await producer.send({ messages: values.map((value, i) => ({ topic, partition: i % 3, key: `k${i}`, value })) });

      const seen = new Set<string>();
      const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: true, sessionTimeout: 10_000, heartbeatInterval: 500 });
      stream.on('data', (message: { value: string }) => seen.add(message.value));
      await waitFor('every record consumed through the group', () => (values.every((v) => seen.has(v)) ? true : undefined), 30_000);

      const described = (await admin.describeGroups({ groups: [groupId] })).get(groupId)!;
      expect(described.state).toBe('STABLE');
      expect(described.members.size).toBe(1);
      expect((await admin.listGroups()).get(groupId)).toMatchObject({ id: groupId, protocolType: 'consumer' });
      await stream.close();
    } finally {
      await consumer.close();
      await producer.close();
      await admin.close();
    }
  }, 90_000);
});
