import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RivuletClient, type PartitionInfo } from '@rivulet/client';
import { LocalCluster, waitFor } from '@rivulet/testkit';

// Replication between real broker processes over gRPC: 3 controllers and 3 brokers on
// loopback, topics with replication factor 3 written with acks=all.

/** Session timeout (2 s) plus a fencing check, a Raft commit and a metadata round trip; slack for a loaded machine. */
const FAILOVER_DEADLINE_MS = 15_000;

describe('replication with real broker processes', () => {
  let baseDir = '';
  let cluster: LocalCluster;
  let client: RivuletClient;

  beforeAll(async () => {
    baseDir = await mkdtemp(join(tmpdir(), 'rivulet-replication-'));
    cluster = await LocalCluster.start({ baseDir, controllers: 3, brokers: 3 });
    client = new RivuletClient({ bootstrap: cluster.bootstrap(), requestTimeoutMs: 10_000 });
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await cluster?.stop();
    if (baseDir !== '') await rm(baseDir, { recursive: true, force: true });
  });

  async function partitions(topic: string): Promise<PartitionInfo[]> {
    const metadata = await client.admin().metadata([topic]);
    return [...metadata.topics.find((t) => t.name === topic)!.partitions].sort((a, b) => a.partition - b.partition);
  }

  /** Every record of a partition, read from its leader from the start. */
  async function readAll(topic: string, partition: number): Promise<{ offset: number; value: string }[]> {
    const consumer = client.consumer({ fetchMaxWaitMs: 100 });
    const tp = { topic, partition };
    consumer.assign([tp]);
    consumer.seek(tp, 'earliest');
    const records: { offset: number; value: string }[] = [];
    for await (const record of consumer.stream({ stopAtEnd: true })) records.push({ offset: record.offset, value: record.value!.toString() });
    await consumer.close();
    return records;
  }

  it('keeps every acknowledged acks=all record when the leader is killed, and the restarted broker catches up and leads again', async () => {
    await client.admin().createTopics([{ name: 'durable', partitions: 1, replicationFactor: 3 }]);
    const [placed] = await partitions('durable');
    const preferred = placed!.replicas[0]!;
    expect(placed!.leaderId).toBe(preferred);

    const acknowledged = new Map<number, string>();
    const producer = client.producer({ lingerMs: 0, acks: 'all' });
    const send = async (value: string): Promise<void> => {
      const sent = await producer.send({ topic: 'durable', partition: 0, value: Buffer.from(value) });
      acknowledged.set(sent.offset, value);
    };
    for (let i = 0; i < 100; i++) await send(`before-${i}`);
    // Acknowledged with acks=all: every ISR member has them.
    expect([...(await partitions('durable'))[0]!.isr].sort()).toEqual([1, 2, 3]);

    await cluster.node(preferred).kill();
    const failedOver = await waitFor(
      'a new leader in the ISR',
      async () => {
        const [p] = await partitions('durable');
        return p!.leaderId >= 0 && p!.leaderId !== preferred ? p : undefined;
      },
      FAILOVER_DEADLINE_MS,
    );
    expect(failedOver!.isr).not.toContain(preferred);
    // The producer finds the new leader by itself; min.insync.replicas 2 still holds.
    for (let i = 0; i < 100; i++) await send(`after-${i}`);
    await producer.close();

    const read = await readAll('durable', 0);
    for (const [offset, value] of acknowledged) expect(read[offset], `offset ${offset}`).toEqual({ offset, value });
    expect(read).toHaveLength(200);

    // Back, the killed broker truncates to where its epoch ended, fetches what it missed,
    // rejoins the ISR, and gets its preferred leadership back.
    await cluster.node(preferred).start();
    const healed = await waitFor(
      `broker ${preferred} back in the ISR and leading`,
      async () => {
        const [p] = await partitions('durable');
        return p!.isr.length === 3 && p!.leaderId === preferred ? p : undefined;
      },
      FAILOVER_DEADLINE_MS,
    );
    expect(healed!.leaderEpoch).toBeGreaterThan(failedOver!.leaderEpoch);
    expect(await readAll('durable', 0)).toEqual(read);
  }, 60_000);
});
