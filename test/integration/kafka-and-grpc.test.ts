import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RivuletClient } from '@rivulet/client';
import { hasKcat } from '@rivulet/kafka/testing/kcat';
import { startEmbeddedNode, type RunningNode } from '@rivulet/server';

// One node, both front-ends: what a Kafka client writes, a Rivulet client reads, and the
// other way round. Both protocols carry the same RecordBatch bytes to the same log.

const run = promisify(execFile);

let node: RunningNode;
let rivulet: RivuletClient;

beforeAll(async () => {
  node = await startEmbeddedNode({ kafkaPort: 0, autoCreateTopics: false });
  rivulet = new RivuletClient({ bootstrap: node.grpcAddress });
});

afterAll(async () => {
  await rivulet?.close();
  await node?.stop();
});

describe('Kafka and gRPC front-ends on one node', () => {
  it('advertises the Kafka listener in the node and in Kafka metadata', async () => {
    expect(node.kafkaAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const kafka = new Kafka({ brokers: [node.kafkaAddress!], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'mixed', numPartitions: 2 }] });
      const metadata = await admin.fetchTopicMetadata({ topics: ['mixed'] });
      expect(metadata.topics[0]!.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1]);
    } finally {
      await admin.disconnect();
    }
  });

  it('a KafkaJS producer writes what the Rivulet consumer reads', async () => {
    const kafka = new Kafka({ brokers: [node.kafkaAddress!], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic: 'mixed', acks: -1, messages: [0, 1, 2].map((i) => ({ partition: 1, key: `k${i}`, value: `from-kafkajs-${i}`, headers: { h: `v${i}` } })) });
    } finally {
      await producer.disconnect();
    }
    const consumer = rivulet.consumer({});
    consumer.assign([{ topic: 'mixed', partition: 1 }]);
    consumer.seek({ topic: 'mixed', partition: 1 }, 'earliest');
    const seen: string[] = [];
    for await (const record of consumer.stream({ stopAtEnd: true })) {
      seen.push(`${record.key!.toString()}=${record.value!.toString()} h=${record.headers[0]!.value!.toString()}`);
    }
    await consumer.close();
    expect(seen).toEqual(['k0=from-kafkajs-0 h=v0', 'k1=from-kafkajs-1 h=v1', 'k2=from-kafkajs-2 h=v2']);
  });

  it.skipIf(!hasKcat)('the Rivulet producer writes what kcat reads (skipped where kcat is not installed)', async () => {
    const producer = rivulet.producer({ acks: 'all', compression: 'lz4' });
    for (const i of [0, 1, 2]) await producer.send({ topic: 'mixed', partition: 0, key: `r${i}`, value: `from-rivulet-${i}` });
    await producer.flush();
    const { stdout } = await run('kcat', ['-b', node.kafkaAddress!, '-C', '-t', 'mixed', '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%k=%s@%o\n'], { timeout: 20_000 });
    expect(stdout.trim().split('\n')).toEqual(['r0=from-rivulet-0@0', 'r1=from-rivulet-1@1', 'r2=from-rivulet-2@2']);
  });
});
