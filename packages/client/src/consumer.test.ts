import { RivuletError } from '@rivulet/common';
import type { clientApi } from '@rivulet/proto';
import { decodeRecordBatchesSync, encodeRecordBatchSync, filterRecordBatch } from '@rivulet/records';
import { afterEach, describe, expect, it } from 'vitest';
import { RivuletClient } from './client.js';
import type { Consumer, ConsumerOptions } from './consumer.js';
import { FakeCluster } from './fake-broker.js';
import { recordsFromBatches } from './fetched-records.js';
import type { ConsumerRecord } from './types.js';

const clients: RivuletClient[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
});

function batch(values: string[], timestampMs = 1_000, compression: 'none' | 'gzip' = 'none'): Buffer {
  return encodeRecordBatchSync({ compression, records: values.map((v, i) => ({ key: null, value: Buffer.from(v), timestampMs: timestampMs + i })) });
}

function setup(options: ConsumerOptions = {}) {
  const fake = new FakeCluster(1);
  fake.createTopic('t', 2);
  const client = new RivuletClient({ bootstrap: fake.addressOf(1), transportFactory: fake.transportFactory(), retryBackoffMs: 1, retryBackoffMaxMs: 5 });
  clients.push(client);
  const consumer = client.consumer({ fetchMaxWaitMs: 10, retryBackoffMs: 1, retryBackoffMaxMs: 5, ...options });
  return { fake, consumer };
}

async function take(consumer: Consumer, count: number): Promise<ConsumerRecord[]> {
  const records: ConsumerRecord[] = [];
  if (count === 0) return records;
  for await (const record of consumer) {
    records.push(record);
    if (records.length === count) break;
  }
  return records;
}

const values = (records: readonly ConsumerRecord[]): string[] => records.map((r) => r.value!.toString());

/** A fetch answer of NOT_LEADER_OR_FOLLOWER for every partition asked for. */
function notLeader(request: clientApi.FetchRequest): clientApi.FetchResponse {
  return {
    topics: request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 6, errorMessage: '', highWatermark: -1, logStartOffset: -1, records: Buffer.alloc(0), nextOffset: 0, leaderId: -1 })),
    })),
  };
}

describe('recordsFromBatches', () => {
  it('skips records below the fetch offset inside the first batch and continues after the last batch', () => {
    const encoded = encodeRecordBatchSync({ baseOffset: 10, records: ['a', 'b', 'c', 'd'].map((v) => ({ key: null, value: Buffer.from(v) })) });
    const fetched = recordsFromBatches('t', 0, 12, decodeRecordBatchesSync(encoded));
    expect(fetched.records.map((r) => [r.offset, r.value!.toString()])).toEqual([
      [12, 'c'],
      [13, 'd'],
    ]);
    expect(fetched.nextFetchOffset).toBe(14);
  });

  it('drops control batches but moves past them', () => {
    const control = encodeRecordBatchSync({ baseOffset: 5, isControl: true, records: [{ key: Buffer.alloc(4), value: Buffer.alloc(6) }] });
    const fetched = recordsFromBatches('t', 0, 5, decodeRecordBatchesSync(control));
    expect(fetched.records).toEqual([]);
    expect(fetched.nextFetchOffset).toBe(6);
  });
});

/** A batch as log compaction leaves it: at `baseOffset`, holding only the records whose offsets `kept` lists. */
async function compactedBatch(baseOffset: number, values: string[], kept: number[]): Promise<Buffer> {
  const full = encodeRecordBatchSync({ baseOffset, records: values.map((v) => ({ key: Buffer.from(v), value: Buffer.from(v), timestampMs: 1_000 })) });
  return (await filterRecordBatch(full, (record) => kept.includes(record.offset))).batch;
}

describe('compacted logs (offset gaps, empty batches)', () => {
  it('recordsFromBatches continues after the last batch\'s last offset, not after its last record', async () => {
    const batches = Buffer.concat([await compactedBatch(10, ['a', 'b', 'c', 'd'], [11]), await compactedBatch(14, ['e', 'f'], [])]);
    const fetched = recordsFromBatches('t', 0, 10, decodeRecordBatchesSync(batches));
    expect(fetched.records.map((r) => [r.offset, r.value!.toString()])).toEqual([[11, 'b']]);
    expect(fetched.nextFetchOffset).toBe(16);
  });

  it('a consumer reads across gaps and empty batches, and its position moves past them', async () => {
    const { fake, consumer } = setup();
    fake.appendStored('t', 0, await compactedBatch(0, ['a', 'b', 'c'], [0, 2]));
    fake.appendStored('t', 0, await compactedBatch(3, ['x', 'y', 'z'], []));
    // Offsets 6..8 are a gap: their batches were removed.
    fake.appendStored('t', 0, await compactedBatch(9, ['j'], [9]));
    fake.appendStored('t', 0, await compactedBatch(10, ['k', 'l'], []));
    consumer.assign([{ topic: 't', partition: 0 }]);
    consumer.seek({ topic: 't', partition: 0 }, 4);
    const fromGap = [];
    for await (const record of consumer.stream({ stopAtEnd: true })) fromGap.push(record);
    expect(fromGap.map((r) => [r.offset, r.value!.toString()])).toEqual([[9, 'j']]);
    expect(consumer.position({ topic: 't', partition: 0 })).toBe(12);
    consumer.seek({ topic: 't', partition: 0 }, 0);
    const all = [];
    for await (const record of consumer.stream({ stopAtEnd: true })) all.push(record);
    expect(all.map((r) => [r.offset, r.value!.toString()])).toEqual([
      [0, 'a'],
      [2, 'c'],
      [9, 'j'],
    ]);
    expect(consumer.position({ topic: 't', partition: 0 })).toBe(12);
  });
});

describe('Consumer', () => {
  it('reads every partition in offset order from an explicit offset', async () => {
    const { fake, consumer } = setup();
    fake.append('t', 0, batch(['a0', 'a1', 'a2']));
    fake.append('t', 0, batch(['a3']));
    fake.append('t', 1, batch(['b0', 'b1']));
    consumer.assign([{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }]);
    consumer.seek({ topic: 't', partition: 0 }, 0);
    consumer.seek({ topic: 't', partition: 1 }, 0);
    const records = await take(consumer, 6);
    expect(values(records.filter((r) => r.partition === 0))).toEqual(['a0', 'a1', 'a2', 'a3']);
    expect(values(records.filter((r) => r.partition === 1))).toEqual(['b0', 'b1']);
    expect(records.filter((r) => r.partition === 0).map((r) => r.offset)).toEqual([0, 1, 2, 3]);
    expect(consumer.position({ topic: 't', partition: 0 })).toBe(4);
  });

  it('starts a seek into the middle of a batch at the requested offset', async () => {
    const { fake, consumer } = setup();
    fake.append('t', 0, batch(['r0', 'r1', 'r2', 'r3', 'r4'], 1000, 'gzip'));
    consumer.assign([{ topic: 't', partition: 0 }]);
    consumer.seek({ topic: 't', partition: 0 }, 3);
    const records = await take(consumer, 2);
    expect(records.map((r) => r.offset)).toEqual([3, 4]);
    expect(values(records)).toEqual(['r3', 'r4']);
  });

  it("seeks to 'earliest', 'latest' and a timestamp", async () => {
    const { fake, consumer } = setup();
    fake.append('t', 0, batch(['x0', 'x1', 'x2'], 1_000));
    fake.append('t', 0, batch(['y0', 'y1'], 5_000));
    const tp = { topic: 't', partition: 0 };
    consumer.assign([tp]);

    consumer.seek(tp, { timestampMs: 1_001 });
    expect(values(await take(consumer, 1))).toEqual(['x1']);
    consumer.seek(tp, { timestampMs: 4_000 });
    expect(values(await take(consumer, 1))).toEqual(['y0']);
    consumer.seek(tp, 'earliest');
    expect(values(await take(consumer, 1))).toEqual(['x0']);

    consumer.seek(tp, 'latest');
    const next = take(consumer, 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    fake.append('t', 0, batch(['z0']));
    expect(values(await next)).toEqual(['z0']);
  });

  it('a timestamp after every record positions at the end', async () => {
    const { fake, consumer } = setup();
    fake.append('t', 0, batch(['a', 'b'], 1_000));
    const tp = { topic: 't', partition: 0 };
    consumer.assign([tp]);
    consumer.seek(tp, { timestampMs: 9_999_999 });
    const records = await take(consumer, 0);
    expect(records).toEqual([]);
    const stream = consumer.stream({ stopAtEnd: true });
    const rest: ConsumerRecord[] = [];
    for await (const record of stream) rest.push(record);
    expect(rest).toEqual([]);
    expect(consumer.position(tp)).toBe(2);
  });

  it("resets an out-of-range position per autoOffsetReset 'earliest'", async () => {
    const { fake, consumer } = setup({ autoOffsetReset: 'earliest' });
    fake.append('t', 0, batch(['a', 'b']));
    const tp = { topic: 't', partition: 0 };
    consumer.assign([tp]);
    consumer.seek(tp, 100);
    expect(values(await take(consumer, 2))).toEqual(['a', 'b']);
  });

  it("raises OFFSET_OUT_OF_RANGE to the reader with autoOffsetReset 'none'", async () => {
    const { fake, consumer } = setup({ autoOffsetReset: 'none' });
    fake.append('t', 0, batch(['a']));
    const tp = { topic: 't', partition: 0 };
    consumer.assign([tp]);
    consumer.seek(tp, 100);
    await expect(take(consumer, 1)).rejects.toMatchObject({ errorName: 'OFFSET_OUT_OF_RANGE', code: 1 });
  });

  it("starts at the end by default ('latest'), like Kafka", async () => {
    const { fake, consumer } = setup();
    fake.append('t', 0, batch(['old']));
    consumer.assign([{ topic: 't', partition: 0 }]);
    const next = take(consumer, 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    fake.append('t', 0, batch(['new']));
    expect(values(await next)).toEqual(['new']);
  });

  it('stops at the end with stopAtEnd', async () => {
    const { fake, consumer } = setup();
    fake.append('t', 0, batch(['a', 'b']));
    fake.append('t', 1, batch(['c']));
    consumer.assign([{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }]);
    consumer.seek({ topic: 't', partition: 0 }, 'earliest');
    consumer.seek({ topic: 't', partition: 1 }, 'earliest');
    const seen: string[] = [];
    for await (const record of consumer.stream({ stopAtEnd: true })) seen.push(record.value!.toString());
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
  });

  it('reads partitions led by different brokers together, the prefetch room shared among them', async () => {
    const fake = new FakeCluster(3);
    fake.createTopic('spread', 3);
    expect([0, 1, 2].map((p) => fake.partition('spread', p).leaderId)).toEqual([1, 2, 3]);
    for (const p of [0, 1, 2]) fake.append('spread', p, batch([`p${p}-a`, `p${p}-b`]));
    const client = new RivuletClient({ bootstrap: fake.addressOf(1), transportFactory: fake.transportFactory(), retryBackoffMs: 1, retryBackoffMaxMs: 5 });
    clients.push(client);
    const consumer = client.consumer({ fetchMaxWaitMs: 10 });
    const tps = [0, 1, 2].map((partition) => ({ topic: 'spread', partition }));
    consumer.assign(tps);
    for (const tp of tps) consumer.seek(tp, 0);
    const read: string[] = [];
    for await (const record of consumer.stream({ stopAtEnd: true })) read.push(record.value!.toString());
    expect(read.sort()).toEqual(['p0-a', 'p0-b', 'p1-a', 'p1-b', 'p2-a', 'p2-b']);
    expect(new Set(fake.fetchRequests.map((r) => r.nodeId))).toEqual(new Set([1, 2, 3]));
  });

  it('pauses and resumes partitions', async () => {
    const { fake, consumer } = setup();
    fake.append('t', 0, batch(['a']));
    fake.append('t', 1, batch(['b']));
    const [p0, p1] = [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }];
    consumer.assign([p0, p1]);
    consumer.seek(p0, 0);
    consumer.seek(p1, 0);
    consumer.pause([p0]);
    expect(values(await take(consumer, 1))).toEqual(['b']);
    consumer.resume([p0]);
    expect(values(await take(consumer, 1))).toEqual(['a']);
  });

  it('run() hands batches to eachBatch and ends when the consumer closes', async () => {
    const { fake, consumer } = setup();
    fake.append('t', 0, batch(['a', 'b', 'c']));
    const tp = { topic: 't', partition: 0 };
    consumer.assign([tp]);
    consumer.seek(tp, 1);
    const seen: string[][] = [];
    await consumer.run({
      eachBatch: async ({ records }) => {
        seen.push(values(records));
        await consumer.close();
      },
    });
    expect(seen).toEqual([['b', 'c']]);
  });

  it('stops prefetching while maxPrefetchBytes are buffered', async () => {
    const { fake, consumer } = setup({ maxPrefetchBytes: 1, maxPartitionFetchBytes: 1 });
    for (let i = 0; i < 20; i++) fake.append('t', 0, batch([`v${i}`]));
    const tp = { topic: 't', partition: 0 };
    consumer.assign([tp]);
    consumer.seek(tp, 0);
    expect(values(await take(consumer, 1))).toEqual(['v0']);
    await new Promise((resolve) => setTimeout(resolve, 30));
    // One batch per fetch and nothing fetched while a batch is buffered: a handful of fetches, not 20.
    expect(fake.fetchRequests.length).toBeLessThanOrEqual(3);
    expect(values(await take(consumer, 19))).toEqual(Array.from({ length: 19 }, (_, i) => `v${i + 1}`));
  });

  it('retries a partition after NOT_LEADER_OR_FOLLOWER', async () => {
    const { fake, consumer } = setup();
    fake.append('t', 0, batch(['a']));
    let failures = 2;
    fake.fetchHook = (_node, request) =>
      failures-- > 0
        ? {
            topics: request.topics.map((t) => ({
              name: t.name,
              partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 6, errorMessage: '', highWatermark: -1, logStartOffset: -1, records: Buffer.alloc(0), nextOffset: 0, leaderId: -1 })),
            })),
          }
        : undefined;
    const tp = { topic: 't', partition: 0 };
    consumer.assign([tp]);
    consumer.seek(tp, 0);
    expect(values(await take(consumer, 1))).toEqual(['a']);
  });

  describe('after a fetch failed against the partition leader', () => {
    // A backoff far longer than any test: a fetch that waits it out never comes.
    const LONG_BACKOFF = { retryBackoffMs: 60_000, retryBackoffMaxMs: 60_000 };

    function twoBrokers() {
      const fake = new FakeCluster(2);
      fake.createTopic('moving', 1);
      fake.append('moving', 0, batch(['a']));
      const client = new RivuletClient({ bootstrap: fake.addressOf(1), transportFactory: fake.transportFactory(), retryBackoffMs: 1, retryBackoffMaxMs: 5 });
      clients.push(client);
      const consumer = client.consumer({ fetchMaxWaitMs: 10, ...LONG_BACKOFF });
      const tp = { topic: 'moving', partition: 0 };
      consumer.assign([tp]);
      consumer.seek(tp, 0);
      return { fake, consumer };
    }

    const fetchedFrom = (fake: FakeCluster): number[] => fake.fetchRequests.map((r) => r.nodeId);
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 200));

    it('fetches from a new leader as soon as the metadata names it, without waiting out the backoff', async () => {
      const { fake, consumer } = twoBrokers();
      // Broker 1 dies; by the time the consumer asks for metadata, broker 2 leads.
      fake.fetchHook = (nodeId) => {
        if (nodeId !== 1) return undefined;
        fake.partition('moving', 0).leaderId = 2;
        return new RivuletError('NETWORK_EXCEPTION', 'broker 1 is gone');
      };
      const read = take(consumer, 1);
      const waited = await Promise.race([read.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 5_000))]);
      expect(waited, 'the consumer waited out its backoff before fetching from the new leader').toBe(false);
      expect(values(await read)).toEqual(['a']);
      expect(fetchedFrom(fake)).toEqual([1, 2]);
    });

    it('keeps the backoff while the metadata still names the leader that failed', async () => {
      const { fake, consumer } = twoBrokers();
      fake.fetchHook = (nodeId, request) => (nodeId === 1 ? notLeader(request) : undefined);
      const read = take(consumer, 1);
      await settle();
      expect(fake.metadataRequests).toBeGreaterThanOrEqual(2);
      expect(fetchedFrom(fake)).toEqual([1]);
      await consumer.close();
      await read;
    });

    it('does not go back and forth without backoff between leaders that each failed', async () => {
      const { fake, consumer } = twoBrokers();
      // Each broker answers NOT_LEADER_OR_FOLLOWER and the metadata then names the other one.
      fake.fetchHook = (nodeId, request) => {
        fake.partition('moving', 0).leaderId = nodeId === 1 ? 2 : 1;
        return notLeader(request);
      };
      const read = take(consumer, 1);
      await settle();
      expect(fetchedFrom(fake)).toEqual([1, 2]);
      await consumer.close();
      await read;
    });
  });

  it('a pause while iterating holds back the rest of a fetched batch until resume', async () => {
    const { fake, consumer } = setup();
    fake.append('t', 0, batch(['a', 'b', 'c']));
    fake.append('t', 1, batch(['x']));
    const [p0, p1] = [{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }];
    consumer.assign([p0, p1]);
    consumer.seek(p0, 0);
    consumer.seek(p1, 0);
    const seen: string[] = [];
    for await (const record of consumer) {
      seen.push(record.value!.toString());
      if (record.value!.toString() === 'a') consumer.pause([p0]);
      if (record.value!.toString() === 'x') consumer.resume([p0]);
      if (seen.length === 4) break;
    }
    expect(seen).toEqual(['a', 'x', 'b', 'c']);
    expect(consumer.position(p0)).toBe(3);
  });
});
