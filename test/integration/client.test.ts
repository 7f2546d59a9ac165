import { startEmbeddedNode, type RunningNode } from '@rivulet/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RivuletAggregateError, RivuletClient, partitionForKey, type ConsumerRecord } from '@rivulet/client';

let node: RunningNode;
let client: RivuletClient;

beforeAll(async () => {
  node = await startEmbeddedNode({ autoCreateTopics: false });
  client = new RivuletClient({ bootstrap: node.grpcAddress, requestTimeoutMs: 10_000 });
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
});

async function readUntil(topic: string, partitions: number, count: number): Promise<ConsumerRecord[]> {
  const consumer = client.consumer({ fetchMaxWaitMs: 100 });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
  for (let partition = 0; partition < partitions; partition++) consumer.seek({ topic, partition }, 'earliest');
  const records: ConsumerRecord[] = [];
  for await (const record of consumer.stream({ stopAtEnd: true })) {
    records.push(record);
    if (records.length === count) break;
  }
  await consumer.close();
  return records;
}

describe('client against an embedded node', () => {
  it('creates, lists, describes and deletes topics, with typed per-topic errors', async () => {
    const admin = client.admin();
    await admin.createTopics([{ name: 'admin-a', partitions: 3 }, { name: 'admin-b', partitions: 1, configs: { 'retention.ms': '60000' } }]);
    expect(await admin.listTopics()).toEqual(expect.arrayContaining(['admin-a', 'admin-b']));
    const [described] = await admin.describeTopics(['admin-b']);
    expect(described!.partitions).toHaveLength(1);
    expect(described!.configs['retention.ms']).toBe('60000');

    const err = await admin.createTopics([{ name: 'admin-a', partitions: 1 }, { name: 'admin-c', partitions: 1 }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RivuletAggregateError);
    expect((err as RivuletAggregateError).failures.map((f) => [f.topic, f.error.errorName])).toEqual([['admin-a', 'TOPIC_ALREADY_EXISTS']]);

    await admin.deleteTopics(['admin-a', 'admin-b', 'admin-c']);
    expect(await admin.listTopics()).not.toContain('admin-a');
  });

  it('produces to several partitions and consumes everything back in order', async () => {
    await client.admin().createTopics([{ name: 'orders', partitions: 3 }]);
    const producer = client.producer({ lingerMs: 2 });
    const sent = await Promise.all(Array.from({ length: 300 }, (_, i) => producer.send({ topic: 'orders', partition: i % 3, value: `v${i}` })));
    for (let p = 0; p < 3; p++) {
      expect(sent.filter((r) => r.partition === p).map((r) => r.offset)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    }
    const records = await readUntil('orders', 3, 300);
    for (let p = 0; p < 3; p++) {
      const values = records.filter((r) => r.partition === p).map((r) => r.value!.toString());
      expect(values).toEqual(Array.from({ length: 100 }, (_, i) => `v${i * 3 + p}`));
    }
  });

  it('puts keyed records on the murmur2 partition', async () => {
    await client.admin().createTopics([{ name: 'keyed', partitions: 5 }]);
    const producer = client.producer();
    const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const reports = await Promise.all(keys.map((key) => producer.send({ topic: 'keyed', key, value: key })));
    reports.forEach((report, i) => expect(report.partition).toBe(partitionForKey(Buffer.from(keys[i]!), 5)));
    const records = await readUntil('keyed', 5, 40);
    for (const record of records) expect(record.partition).toBe(partitionForKey(record.key!, 5));
  });

  it('acks 0, 1 and all all deliver; acks=0 reports offset -1', async () => {
    await client.admin().createTopics([{ name: 'acks', partitions: 1 }]);
    const zero = await client.producer({ acks: 0 }).send({ topic: 'acks', value: 'zero' });
    expect(zero.offset).toBe(-1);
    const one = await client.producer({ acks: 1 }).send({ topic: 'acks', value: 'one' });
    const all = await client.producer({ acks: 'all' }).send({ topic: 'acks', value: 'all' });
    expect(all.offset).toBe(one.offset + 1);
    const records = await readUntil('acks', 1, 3);
    expect(records.map((r) => r.value!.toString()).sort()).toEqual(['all', 'one', 'zero']);
  });

  it('seeks by timestamp and lists offsets', async () => {
    await client.admin().createTopics([{ name: 'times', partitions: 1 }]);
    const producer = client.producer();
    for (let i = 0; i < 5; i++) await producer.send({ topic: 'times', value: `t${i}`, timestamp: 1_700_000_000_000 + i * 1000 });
    const [byTime] = await client.admin().listOffsets([{ topic: 'times', partition: 0, spec: { timestampMs: 1_700_000_002_500 } }]);
    expect(byTime!.offset).toBe(3);
    const [latest] = await client.admin().listOffsets([{ topic: 'times', partition: 0, spec: 'latest' }]);
    expect(latest!.offset).toBe(5);

    const consumer = client.consumer({ fetchMaxWaitMs: 100 });
    const tp = { topic: 'times', partition: 0 };
    consumer.assign([tp]);
    consumer.seek(tp, { timestampMs: 1_700_000_002_000 });
    const values: string[] = [];
    for await (const record of consumer.stream({ stopAtEnd: true })) values.push(record.value!.toString());
    expect(values).toEqual(['t2', 't3', 't4']);
    await consumer.close();
  });

  it('compressed batches round-trip', async () => {
    await client.admin().createTopics([{ name: 'zipped', partitions: 1 }]);
    for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      await client.producer({ compression }).send({ topic: 'zipped', value: compression.repeat(50) });
    }
    const records = await readUntil('zipped', 1, 4);
    expect(records.map((r) => r.value!.toString().slice(0, 4))).toEqual(['gzip', 'snap', 'lz4l', 'zstd']);
  });

  it('fails a produce to an unknown topic with UNKNOWN_TOPIC_OR_PARTITION when auto-create is off', async () => {
    const err = await client.producer().send({ topic: 'no-such-topic', value: 'x' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3 });
  });

  it('describes the cluster', async () => {
    const cluster = await client.admin().describeCluster();
    expect(cluster.brokers).toHaveLength(1);
    expect(`${cluster.brokers[0]!.host}:${cluster.brokers[0]!.grpcPort}`).toBe(node.grpcAddress);
  });

  it('deletes records; a consumer below the new log start resets per autoOffsetReset', async () => {
    await client.admin().createTopics([{ name: 'trim', partitions: 1 }]);
    const producer = client.producer();
    await producer.sendBatch(Array.from({ length: 10 }, (_, i) => ({ topic: 'trim', value: `r${i}`, headers: { n: String(i) } })));
    const [deleted] = await client.admin().deleteRecords([{ topic: 'trim', partition: 0, beforeOffset: 6 }]);
    expect(deleted!.lowWatermark).toBe(6);
    const [earliest] = await client.admin().listOffsets([{ topic: 'trim', partition: 0, spec: 'earliest' }]);
    expect(earliest!.offset).toBe(6);

    const tp = { topic: 'trim', partition: 0 };
    const resetting = client.consumer({ autoOffsetReset: 'earliest', fetchMaxWaitMs: 100 });
    resetting.assign([tp]);
    resetting.seek(tp, 2);
    const records: ConsumerRecord[] = [];
    for await (const record of resetting.stream({ stopAtEnd: true })) records.push(record);
    expect(records.map((r) => r.offset)).toEqual([6, 7, 8, 9]);
    expect(records[0]!.headers).toEqual([{ key: 'n', value: Buffer.from('6') }]);
    await resetting.close();

    const strict = client.consumer({ autoOffsetReset: 'none', fetchMaxWaitMs: 100 });
    strict.assign([tp]);
    strict.seek(tp, 2);
    await expect(strict.stream({ stopAtEnd: true }).next()).rejects.toMatchObject({ errorName: 'OFFSET_OUT_OF_RANGE' });
    await strict.close();
  });

  it('reports metadata: brokers, topics and leaders', async () => {
    await client.admin().createTopics([{ name: 'meta', partitions: 2 }]);
    const metadata = await client.admin().metadata(['meta']);
    expect(metadata.topics[0]!.partitions.map((p) => p.leaderId)).toEqual([1, 1]);
    await expect(client.admin().metadata(['nope'])).rejects.toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });

  it('auto-creates a topic on first produce when the broker allows it', async () => {
    const autoNode = await startEmbeddedNode({ autoCreateTopics: true, defaultPartitions: 2 });
    const autoClient = new RivuletClient({ bootstrap: autoNode.grpcAddress });
    try {
      const report = await autoClient.producer().send({ topic: 'born-on-produce', key: 'k', value: 'v' });
      expect(report.partition).toBe(partitionForKey(Buffer.from('k'), 2));
      const [described] = await autoClient.admin().describeTopics(['born-on-produce']);
      expect(described!.partitions).toHaveLength(2);
    } finally {
      await autoClient.close();
      await autoNode.stop();
    }
  });
});
