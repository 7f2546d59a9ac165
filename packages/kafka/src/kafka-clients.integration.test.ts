import { Admin, Producer } from '@platformatic/kafka';
import { Compression, decodeRecordBatches, readBatchHeader, splitBatches } from '@rivulet/records';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasKcat, runKcat } from './testing/kcat.js';
import { startTestNode, type TestNode } from './testing/test-node.js';

/**
 * Real, unmodified Kafka clients against a broker with a KafkaListener on port 0. kcat is the
 * Debian package (librdkafka 2.0.2); KafkaJS and @platformatic/kafka come from npm. Records
 * are read back with kcat's simple consumer (-C without -G) or straight from the broker core;
 * consumer groups have their own file (kafka-groups.integration.test.ts).
 */
let node: TestNode;

async function readAll(topic: string, partition = 0): Promise<{ codecs: number[]; values: string[]; keys: (string | null)[] }> {
  const response = await node.broker.fetch({ maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 24, topics: [{ name: topic, partitions: [{ partition, fetchOffset: 0, partitionMaxBytes: 1 << 24, currentLeaderEpoch: -1 }] }] });
  const records = response.topics[0]!.partitions[0]!.records;
  const codecs = splitBatches(records).batches.map((b) => readBatchHeader(b).compression);
  const batches = await decodeRecordBatches(records);
  const decoded = batches.flatMap((b) => b.records);
  return { codecs, values: decoded.map((r) => r.value?.toString() ?? ''), keys: decoded.map((r) => r.key?.toString() ?? null) };
}

/** The producer fields of every stored batch, and its record count. */
async function producerFields(topic: string, partition = 0): Promise<{ producerId: number; producerEpoch: number; baseSequence: number; recordCount: number }[]> {
  const response = await node.broker.fetch({ maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 24, topics: [{ name: topic, partitions: [{ partition, fetchOffset: 0, partitionMaxBytes: 1 << 24, currentLeaderEpoch: -1 }] }] });
  return splitBatches(response.topics[0]!.partitions[0]!.records).batches.map((b) => {
    const h = readBatchHeader(b);
    return { producerId: h.producerId, producerEpoch: h.producerEpoch, baseSequence: h.baseSequence, recordCount: h.recordCount };
  });
}

/** Asserts the batches are one producer's (id > 0, epoch 0) with sequences continuing from 0. */
function expectOneIdempotentSequence(batches: { producerId: number; producerEpoch: number; baseSequence: number; recordCount: number }[]): void {
  expect(batches.length).toBeGreaterThan(0);
  let nextSequence = 0;
  for (const b of batches) {
    expect(b.producerId).toBeGreaterThan(0);
    expect(b.producerId).toBe(batches[0]!.producerId);
    expect(b.producerEpoch).toBe(0);
    expect(b.baseSequence).toBe(nextSequence);
    nextSequence += b.recordCount;
  }
}

beforeAll(async () => {
  node = await startTestNode();
});

afterAll(async () => {
  await node.stop();
});

describe('kcat (librdkafka 2.0.2)', () => {
  it.skipIf(!hasKcat)('lists brokers and topics with -L', async () => {
    await node.broker.createTopics([{ name: 'kcat-listed', partitions: 3, replicationFactor: 1, configs: {} }], false);
    const listing = await runKcat(['-b', node.bootstrap, '-L']);
    expect(listing).toContain(`broker 1 at ${node.bootstrap}`);
    expect(listing).toContain('topic "kcat-listed" with 3 partitions');
  });

  for (const [name, codec] of Object.entries(Compression)) {
    it.skipIf(!hasKcat)(`produces with -z ${name}, keys and headers, and consumes them back with -C`, async () => {
      const topic = `kcat-${name}`;
      await node.broker.createTopics([{ name: topic, partitions: 1, replicationFactor: 1, configs: {} }], false);
      // Repetitive values so every codec shrinks the batch; librdkafka sends uncompressed otherwise.
      const lines = Array.from({ length: 200 }, (_, i) => `key-${i}:value-${i}-${'x'.repeat(50)}`);
      await runKcat(['-b', node.bootstrap, '-P', '-t', topic, '-K:', '-z', name, '-H', 'trace=abc'], lines.join('\n') + '\n');
      const stored = await readAll(topic);
      expect(stored.values).toHaveLength(200);
      expect(new Set(stored.codecs)).toEqual(new Set([codec]));
      const consumed = await runKcat(['-b', node.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%o|%k|%s|%h\\n']);
      const rows = consumed.trim().split('\n');
      expect(rows).toHaveLength(200);
      expect(rows[7]).toBe(`7|key-7|value-7-${'x'.repeat(50)}|trace=abc`);
    });
  }

  it.skipIf(!hasKcat)('consumes a compacted topic across the offset gaps its cleaning left', async () => {
    const topic = 'kcat-compacted';
    await node.broker.createTopics([{ name: topic, partitions: 1, replicationFactor: 1, configs: { 'cleanup.policy': 'compact' } }], false);
    const produce = (lines: string[]) => runKcat(['-b', node.bootstrap, '-P', '-t', topic, '-K:'], lines.join('\n') + '\n');
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
    await produce(range(0, 5).map((i) => `k${i}:a`)); // offsets 0..4, all superseded below
    await produce(range(0, 10).map((i) => `k${i}:b`)); // 5..14
    await produce(range(0, 5).map((i) => `k${i}:c`)); // 15..19
    await produce(['last:x']); // 20, the last batch, never cleaned
    expect(await node.broker.cleanLogs()).toBe(1);
    const consumed = await runKcat(['-b', node.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%o|%k|%s\\n']);
    expect(consumed.trim().split('\n')).toEqual([...range(5, 10).map((i) => `${i + 5}|k${i}|b`), ...range(0, 5).map((i) => `${i + 15}|k${i}|c`), '20|last|x']);
  });

  it.skipIf(!hasKcat)('produces with -X enable.idempotence=true: a producer id from InitProducerId, sequences from 0, every record once', async () => {
    await node.broker.createTopics([{ name: 'kcat-idempotent', partitions: 1, replicationFactor: 1, configs: {} }], false);
    const lines = Array.from({ length: 300 }, (_, i) => `line-${i}`);
    await runKcat(['-b', node.bootstrap, '-P', '-t', 'kcat-idempotent', '-X', 'enable.idempotence=true', '-X', 'linger.ms=5', '-X', 'batch.num.messages=50'], lines.join('\n') + '\n');
    expect((await readAll('kcat-idempotent')).values).toEqual(lines);
    expectOneIdempotentSequence(await producerFields('kcat-idempotent'));
  });

  it.skipIf(!hasKcat)('queries offsets by time with -Q (ListOffsets)', async () => {
    await node.broker.createTopics([{ name: 'kcat-query', partitions: 1, replicationFactor: 1, configs: {} }], false);
    await runKcat(['-b', node.bootstrap, '-P', '-t', 'kcat-query'], 'a\nb\nc\n');
    const answer = await runKcat(['-b', node.bootstrap, '-Q', '-t', 'kcat-query:0:-1']);
    expect(answer).toContain('offset 3');
  });
});

describe('KafkaJS 2.2.4 (non-flexible versions)', () => {
  const kafka = () => new Kafka({ brokers: [node.bootstrap], clientId: 'rivulet-test', logLevel: logLevel.NOTHING, retry: { retries: 2 } });

  it('creates topics, fetches their metadata and offsets, describes configs, deletes them', async () => {
    const admin = kafka().admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic: 'js-admin', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '60000' }] }] })).toBe(true);
      const { topics } = await admin.fetchTopicMetadata({ topics: ['js-admin'] });
      expect(topics[0]!.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
      expect(topics[0]!.partitions[0]!.leader).toBe(1);
      expect(await admin.listTopics()).toContain('js-admin');
      const offsets = await admin.fetchTopicOffsets('js-admin');
      expect(offsets.map((o) => o.high)).toEqual(['0', '0', '0']);
      const configs = await admin.describeConfigs({ resources: [{ type: 2, name: 'js-admin' }], includeSynonyms: false });
      expect(configs.resources[0]!.configEntries.find((c) => c.configName === 'retention.ms')?.configValue).toBe('60000');
      await expect(admin.createTopics({ topics: [{ topic: 'js-admin' }] })).resolves.toBe(false);
      await admin.deleteTopics({ topics: ['js-admin'] });
      expect(await admin.listTopics()).not.toContain('js-admin');
    } finally {
      await admin.disconnect();
    }
  });

  for (const [label, compression] of [['uncompressed', CompressionTypes.None], ['gzip', CompressionTypes.GZIP]] as const) {
    it(`produces ${label} with keys and headers, and the records are stored as sent`, async () => {
      const topic = `js-produce-${label}`;
      await node.broker.createTopics([{ name: topic, partitions: 1, replicationFactor: 1, configs: {} }], false);
      const producer = kafka().producer();
      await producer.connect();
      try {
        const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, headers: { source: 'kafkajs' } }));
        const [result] = await producer.send({ topic, acks: -1, compression, messages });
        expect(result!.errorCode).toBe(0);
        expect(result!.baseOffset).toBe('0');
      } finally {
        await producer.disconnect();
      }
      const stored = await readAll(topic);
      expect(stored.values).toEqual(Array.from({ length: 50 }, (_, i) => `v${i}`));
      expect(stored.keys[3]).toBe('k3');
      expect(new Set(stored.codecs)).toEqual(new Set([compression === CompressionTypes.GZIP ? Compression.gzip : Compression.none]));
    });
  }

  it('a record without a key sent to a compacted topic is refused with INVALID_RECORD and not stored', async () => {
    const topic = 'js-compacted';
    await node.broker.createTopics([{ name: topic, partitions: 1, replicationFactor: 1, configs: { 'cleanup.policy': 'compact' } }], false);
    const producer = kafka().producer();
    await producer.connect();
    try {
      await expect(producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'keyed' }, { value: 'keyless' }] })).rejects.toMatchObject({ type: 'INVALID_RECORD' });
      const [result] = await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'keyed' }] });
      expect(result!.errorCode).toBe(0);
    } finally {
      await producer.disconnect();
    }
    expect((await readAll(topic)).values).toEqual(['keyed']);
  });

  it('an idempotent producer (idempotent: true) gets a producer id and writes every record once, in sequence', async () => {
    const topic = 'js-idempotent';
    await node.broker.createTopics([{ name: topic, partitions: 1, replicationFactor: 1, configs: {} }], false);
    const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let round = 0; round < 5; round++) {
        const messages = Array.from({ length: 20 }, (_, i) => ({ value: `r${round}-${i}` }));
        const [result] = await producer.send({ topic, acks: -1, messages });
        expect(result!.errorCode).toBe(0);
        expect(result!.baseOffset).toBe(String(round * 20));
      }
    } finally {
      await producer.disconnect();
    }
    const stored = await readAll(topic);
    expect(stored.values).toEqual(Array.from({ length: 100 }, (_, i) => `r${Math.floor(i / 20)}-${i % 20}`));
    expectOneIdempotentSequence(await producerFields(topic));
  });

  it('adds partitions to a topic, and refuses a lower count and an unknown topic', async () => {
    const admin = kafka().admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'js-grow', numPartitions: 2 }] });
      await admin.createPartitions({ topicPartitions: [{ topic: 'js-grow', count: 5 }] });
      const { topics } = await admin.fetchTopicMetadata({ topics: ['js-grow'] });
      expect(topics[0]!.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2, 3, 4]);
      await expect(admin.createPartitions({ topicPartitions: [{ topic: 'js-grow', count: 3 }] })).rejects.toMatchObject({ type: 'INVALID_PARTITIONS' });
      await expect(admin.createPartitions({ topicPartitions: [{ topic: 'js-nowhere', count: 3 }] })).rejects.toMatchObject({ type: 'UNKNOWN_TOPIC_OR_PARTITION' });
      await expect(admin.createPartitions({ topicPartitions: [{ topic: 'js-grow', count: 6, assignments: [[1]] }] })).rejects.toMatchObject({ type: 'INVALID_REPLICA_ASSIGNMENT' });
      expect(node.broker.describeTopics(['js-grow'])[0]!.partitions).toHaveLength(5);
    } finally {
      await admin.disconnect();
    }
  });

  it('alters topic configs (the whole set, as AlterConfigs does) and refuses bad ones, changing nothing', async () => {
    const admin = kafka().admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'js-configs', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '60000' }] }] });
      const describe = async () =>
        Object.fromEntries(
          (await admin.describeConfigs({ resources: [{ type: 2, name: 'js-configs' }], includeSynonyms: false })).resources[0]!.configEntries.map((c) => [c.configName, [c.configValue, c.isDefault]]),
        );
      expect((await describe())['retention.ms']).toEqual(['60000', false]);
      // AlterConfigs replaces the explicit set: retention.ms goes back to the default.
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'js-configs', configEntries: [{ name: 'retention.bytes', value: '1048576' }] }] });
      const altered = await describe();
      expect(altered['retention.bytes']).toEqual(['1048576', false]);
      expect(altered['retention.ms']![1]).toBe(true);
      await expect(
        admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'js-configs', configEntries: [{ name: 'retention.bytes', value: 'lots' }] }] }),
      ).rejects.toMatchObject({ type: 'INVALID_CONFIG' });
      await expect(
        admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'js-nowhere', configEntries: [{ name: 'retention.ms', value: '1' }] }] }),
      ).rejects.toMatchObject({ type: 'UNKNOWN_TOPIC_OR_PARTITION' });
      expect((await describe())['retention.bytes']).toEqual(['1048576', false]);
    } finally {
      await admin.disconnect();
    }
  });

  it('gets UNKNOWN_TOPIC_OR_PARTITION for a missing topic without auto-creation', async () => {
    const admin = kafka().admin();
    await admin.connect();
    try {
      await expect(admin.fetchTopicMetadata({ topics: ['js-missing'] })).rejects.toThrow(/does not host this topic-partition|This server does not host/);
    } finally {
      await admin.disconnect();
    }
  });
});

describe('@platformatic/kafka (flexible versions only)', () => {
  it('an idempotent producer (InitProducerId v5) writes with its producer id and sequences', async () => {
    const producer = new Producer({ clientId: 'rivulet-test', bootstrapBrokers: [node.bootstrap], idempotent: true });
    try {
      await node.broker.createTopics([{ name: 'pf-idempotent', partitions: 1, replicationFactor: 1, configs: {} }], false);
      for (let i = 0; i < 3; i++) {
        const result = await producer.send({ messages: [{ topic: 'pf-idempotent', partition: 0, value: Buffer.from(`v${i}`) }] });
        expect(result.offsets?.[0]?.offset).toBe(BigInt(i));
      }
      expect(producer.producerId).toBeGreaterThan(0n);
    } finally {
      await producer.close();
    }
    expect((await readAll('pf-idempotent')).values).toEqual(['v0', 'v1', 'v2']);
    expectOneIdempotentSequence(await producerFields('pf-idempotent'));
  });

  it('creates a topic, produces to it and deletes it', async () => {
    const admin = new Admin({ clientId: 'rivulet-test', bootstrapBrokers: [node.bootstrap] });
    const producer = new Producer({ clientId: 'rivulet-test', bootstrapBrokers: [node.bootstrap] });
    try {
      await admin.createTopics({ topics: ['pf-topic'], partitions: 2, replicas: 1 });
      const metadata = await admin.metadata({ topics: ['pf-topic'] });
      expect(metadata.topics.get('pf-topic')?.partitionsCount).toBe(2);
      expect(metadata.topics.get('pf-topic')?.id).toBe(node.broker.topicIdOf('pf-topic'));
      const result = await producer.send({ messages: [{ topic: 'pf-topic', partition: 1, key: Buffer.from('k'), value: Buffer.from('hello flexible') }] });
      expect(result.offsets?.[0]?.offset).toBe(0n);
      const stored = await readAll('pf-topic', 1);
      expect(stored.values).toEqual(['hello flexible']);
      await admin.createPartitions({ topics: [{ name: 'pf-topic', count: 4 }] });
      expect(node.broker.describeTopics(['pf-topic'])[0]!.partitions).toHaveLength(4);
      await admin.incrementalAlterConfigs({
        resources: [{ resourceType: 2, resourceName: 'pf-topic', configs: [{ name: 'max.message.bytes', configOperation: 0, value: '65536' }] }],
      });
      expect(node.broker.describeTopics(['pf-topic'])[0]!.configs['max.message.bytes']).toBe('65536');
      await admin.incrementalAlterConfigs({ resources: [{ resourceType: 2, resourceName: 'pf-topic', configs: [{ name: 'max.message.bytes', configOperation: 1 }] }] });
      expect(node.broker.describeTopics(['pf-topic'])[0]!.explicitConfigKeys).toEqual([]);
      await admin.deleteTopics({ topics: ['pf-topic'] });
      expect(node.broker.describeTopics(['pf-topic'])[0]!.errorCode).toBe(3);
    } finally {
      await producer.close();
      await admin.close();
    }
  });
});
