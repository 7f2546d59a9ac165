import { RivuletError, SeededRandom } from '@rivulet/common';
import type { clientApi } from '@rivulet/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { RivuletClient } from './client.js';
import { FakeCluster } from './fake-broker.js';
import { partitionForKey } from './murmur2.js';
import type { ProducerOptions } from './producer.js';

const clients: RivuletClient[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
});

function setup(options: ProducerOptions = {}, brokers = 1) {
  const fake = new FakeCluster(brokers);
  fake.createTopic('t', 4);
  const client = new RivuletClient({ bootstrap: fake.addressOf(1), transportFactory: fake.transportFactory(), retryBackoffMs: 1, retryBackoffMaxMs: 5 });
  clients.push(client);
  const producer = client.producer({ random: new SeededRandom(42), retryBackoffMs: 1, retryBackoffMaxMs: 5, ...options });
  return { fake, client, producer };
}

function errorResponse(request: clientApi.ProduceRequest, errorCode: number): clientApi.ProduceResponse {
  return {
    topics: request.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode, errorMessage: 'injected', baseOffset: -1, logAppendTimeMs: -1, logStartOffset: 0, leaderId: -1 })),
    })),
  };
}

describe('Producer', () => {
  it('delivers records with consecutive offsets and batches those sent together into one request', async () => {
    const { fake, producer } = setup({ lingerMs: 20 });
    const reports = await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send({ topic: 't', partition: 2, value: `v${i}` })));
    expect(reports.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(reports.every((r) => r.topic === 't' && r.partition === 2)).toBe(true);
    expect(fake.produceRequests).toHaveLength(1);
    expect(fake.values('t', 2)).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
  });

  it('sends keyed records to the murmur2 partition', async () => {
    const { producer } = setup();
    for (const key of ['21', 'foobar', 'abc', 'user-17', 'user-18']) {
      const report = await producer.send({ topic: 't', key, value: 'x' });
      expect(report.partition).toBe(partitionForKey(Buffer.from(key), 4));
    }
  });

  it('keeps keyless records sent together on one sticky partition', async () => {
    const { producer } = setup({ lingerMs: 20 });
    const reports = await Promise.all(Array.from({ length: 50 }, () => producer.send({ topic: 't', value: 'x' })));
    expect(new Set(reports.map((r) => r.partition)).size).toBe(1);
  });

  it('retries NOT_LEADER_OR_FOLLOWER after refreshing metadata, delivering each record once', async () => {
    const { fake, producer } = setup();
    let failures = 2;
    fake.produceHook = (_node, request) => (failures-- > 0 ? errorResponse(request, 6) : undefined);
    const metadataBefore = fake.metadataRequests;
    const report = await producer.send({ topic: 't', partition: 1, value: 'once' });
    expect(report.offset).toBe(0);
    expect(fake.produceRequests).toHaveLength(3);
    expect(fake.metadataRequests).toBeGreaterThan(metadataBefore);
    expect(fake.values('t', 1)).toEqual(['once']);
  });

  it('retries transport failures (broker unreachable)', async () => {
    const { fake, producer } = setup();
    let failures = 1;
    fake.produceHook = () => (failures-- > 0 ? new RivuletError('NETWORK_EXCEPTION', 'connection refused') : undefined);
    await expect(producer.send({ topic: 't', partition: 0, value: 'v' })).resolves.toMatchObject({ offset: 0 });
    expect(fake.produceRequests).toHaveLength(2);
  });

  // A long backoff (2 s after the first failure) that a new leader must cut short. The old
  // leader refuses the connection, or eats the request until the transport gives up with
  // REQUEST_TIMED_OUT (a cut link), which by itself does not ask for fresh metadata.
  it.each([
    ['sends a backed-off batch at once when metadata names a new leader, instead of waiting out its backoff', 'moving', new RivuletError('NETWORK_EXCEPTION', 'connection refused')],
    ['looks for a new leader after a request timed out without an answer, and sends there at once', 'silent', new RivuletError('REQUEST_TIMED_OUT', 'Produce: no answer within 3000 ms')],
  ])('%s', async (_name, topic, failure) => {
    const { fake, producer } = setup({ retryBackoffMs: 2_000, retryBackoffMaxMs: 2_000 }, 2);
    fake.createTopic(topic, 1);
    await producer.send({ topic, partition: 0, value: 'warm-up' });
    const oldLeader = fake.partition(topic, 0).leaderId;
    const newLeader = fake.brokerIds.find((id) => id !== oldLeader)!;
    fake.produceHook = (nodeId) => (nodeId === oldLeader ? failure : undefined);
    const startedMs = Date.now();
    const sent = producer.send({ topic, partition: 0, value: 'moved' });
    // The controller moves the leadership 100 ms later; the producer learns it from metadata.
    setTimeout(() => {
      fake.partition(topic, 0).leaderId = newLeader;
    }, 100);
    await expect(sent).resolves.toMatchObject({ offset: 1 });
    expect(Date.now() - startedMs).toBeLessThan(1_500);
    expect(fake.produceRequests.at(-1)!.nodeId).toBe(newLeader);
  });

  it('does not send again to a leader that left a request unanswered until metadata was refreshed after it', async () => {
    const { fake, client, producer } = setup({}, 2);
    fake.createTopic('cut', 1);
    await producer.send({ topic: 'cut', partition: 0, value: 'warm-up' });
    const oldLeader = fake.partition('cut', 0).leaderId;
    const newLeader = fake.brokerIds.find((id) => id !== oldLeader)!;
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // The old leader is cut off: it eats produce requests until the client's timeout (100 ms
    // here) and metadata requests too (300 ms). The controller moves the leadership at once.
    fake.produceHook = async (nodeId) => (nodeId === oldLeader ? (await sleep(100), new RivuletError('REQUEST_TIMED_OUT', 'Produce: no answer')) : undefined);
    fake.metadataHook = async (nodeId) => (nodeId === oldLeader ? (await sleep(300), new RivuletError('REQUEST_TIMED_OUT', 'Metadata: no answer')) : undefined);
    const before = fake.produceRequests.length;
    const sent = producer.send({ topic: 'cut', partition: 0, value: 'moved' });
    fake.partition('cut', 0).leaderId = newLeader;
    // A refresh already in flight asks the old leader first (it answered last) and waits on it.
    const cluster = (client as unknown as { cluster: { refreshMetadata(): Promise<void> } }).cluster;
    const inFlight = cluster.refreshMetadata().catch(() => undefined);
    await expect(sent).resolves.toMatchObject({ offset: 1 });
    await inFlight;
    // Retrying at once would have found the old leader still in the metadata and waited out
    // another request timeout there, twice before the refresh came back.
    const after = fake.produceRequests.slice(before);
    expect(after.filter((r) => r.nodeId === oldLeader)).toHaveLength(1);
    expect(after.at(-1)!.nodeId).toBe(newLeader);
  });

  it('keeps asking for metadata while a leader that left a request unanswered is the only one it knows', async () => {
    const { fake, producer } = setup({ deliveryTimeoutMs: 10_000 });
    await producer.send({ topic: 't', partition: 0, value: 'warm-up' });
    // The only broker restarts: one produce and the next two metadata requests fail.
    let produceFailures = 1;
    let metadataFailures = 2;
    fake.produceHook = () => (produceFailures-- > 0 ? new RivuletError('NETWORK_EXCEPTION', 'connection reset') : undefined);
    fake.metadataHook = () => (metadataFailures-- > 0 ? new RivuletError('NETWORK_EXCEPTION', 'connection refused') : undefined);
    const startedMs = Date.now();
    await expect(producer.send({ topic: 't', partition: 0, value: 'after' })).resolves.toMatchObject({ offset: 1 });
    expect(metadataFailures).toBeLessThan(0);
    expect(Date.now() - startedMs).toBeLessThan(5_000);
  });

  it('gives up after `retries` retries with the last typed error', async () => {
    const { fake, producer } = setup({ retries: 2 });
    fake.produceHook = (_node, request) => errorResponse(request, 7);
    const err = await producer.send({ topic: 't', partition: 0, value: 'v' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RivuletError);
    expect(err).toMatchObject({ errorName: 'REQUEST_TIMED_OUT', context: { topic: 't', partition: 0 } });
    expect(fake.produceRequests).toHaveLength(3);
  });

  it('fails at once on a non-retriable error', async () => {
    const { fake, producer } = setup();
    fake.produceHook = (_node, request) => errorResponse(request, 10);
    await expect(producer.send({ topic: 't', partition: 0, value: 'v' })).rejects.toMatchObject({ errorName: 'MESSAGE_TOO_LARGE' });
    expect(fake.produceRequests).toHaveLength(1);
  });

  it('resolves acks=0 records with offset -1', async () => {
    const { fake, producer } = setup({ acks: 0 });
    fake.produceHook = () => ({ topics: [] });
    await expect(producer.send({ topic: 't', partition: 0, value: 'v' })).resolves.toMatchObject({ offset: -1, partition: 0 });
    expect(fake.produceRequests[0]!.request.acks).toBe(0);
  });

  it("maps acks 'all' to -1 on the wire", async () => {
    const { fake, producer } = setup({ acks: 'all' });
    await producer.send({ topic: 't', partition: 0, value: 'v' });
    expect(fake.produceRequests[0]!.request.acks).toBe(-1);
  });

  it('rejects records for an unknown topic with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    const { producer } = setup();
    await expect(producer.send({ topic: 'missing', value: 'v' })).rejects.toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3 });
  });

  it('rejects an explicit partition the topic does not have', async () => {
    const { producer } = setup();
    await expect(producer.send({ topic: 't', partition: 9, value: 'v' })).rejects.toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });

  it('keeps at most maxInFlightRequests produce requests per broker', async () => {
    const { fake, producer } = setup({ maxInFlightRequests: 2, lingerMs: 0 });
    let inFlight = 0;
    let peak = 0;
    fake.produceHook = async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return undefined;
    };
    // Four partitions, several rounds: without the bound there would be more concurrent requests.
    const sends = [];
    for (let round = 0; round < 5; round++) {
      for (let p = 0; p < 4; p++) sends.push(producer.send({ topic: 't', partition: p, value: `r${round}` }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(sends);
    expect(peak).toBeLessThanOrEqual(2);
    for (let p = 0; p < 4; p++) expect(fake.values('t', p)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
  });

  it('bounds buffered bytes by bufferMemoryBytes; sends beyond it wait', async () => {
    const { fake, producer } = setup({ bufferMemoryBytes: 2000, batchSizeBytes: 500, lingerMs: 0 });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    fake.produceHook = async () => {
      await gate;
      return undefined;
    };
    const value = Buffer.alloc(200);
    const sends = Array.from({ length: 20 }, () => producer.send({ topic: 't', partition: 0, value }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(producer.bufferedBytes).toBeLessThanOrEqual(2000);
    let spaceAvailable = false;
    const space = producer.waitForBufferSpace().then(() => (spaceAvailable = true));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(spaceAvailable).toBe(false);
    release();
    const reports = await Promise.all(sends);
    await space;
    expect(reports.map((r) => r.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(producer.bufferedBytes).toBe(0);
  });

  it('flush() sends lingering batches at once and waits for their reports', async () => {
    const { fake, producer } = setup({ lingerMs: 60_000 });
    const delivered: number[] = [];
    const sends = [0, 1, 2].map((p) => producer.send({ topic: 't', partition: p, value: 'v' }).then((r) => delivered.push(r.partition)));
    await producer.flush();
    expect(delivered.sort()).toEqual([0, 1, 2]);
    await Promise.all(sends);
    expect(fake.produceRequests).toHaveLength(1);
  });

  it('routes each partition to its own leader', async () => {
    const { fake, producer } = setup({}, 2);
    fake.createTopic('two', 2);
    await Promise.all([producer.send({ topic: 'two', partition: 0, value: 'a' }), producer.send({ topic: 'two', partition: 1, value: 'b' })]);
    const nodes = fake.produceRequests.map((r) => r.nodeId).sort();
    expect(nodes).toEqual([1, 2]);
  });

  it('carries keys, headers and timestamps to the log', async () => {
    const { fake, producer } = setup();
    await producer.send({ topic: 't', partition: 0, key: 'k', value: 'v', headers: { h: 'x' }, timestamp: 1_700_000_000_000 });
    const { decodeRecordBatchesSync } = await import('@rivulet/records');
    const [batch] = decodeRecordBatchesSync(fake.partition('t', 0).batches[0]!);
    const [stored] = batch!.records;
    expect(stored!.key!.toString()).toBe('k');
    expect(stored!.headers).toEqual([{ key: 'h', value: Buffer.from('x') }]);
    expect(stored!.timestampMs).toBe(1_700_000_000_000);
  });

  it('expires records whose partition has no leader after deliveryTimeoutMs, without spinning', async () => {
    const { fake, producer } = setup({ deliveryTimeoutMs: 200, retryBackoffMs: 20, retryBackoffMaxMs: 50 });
    await producer.send({ topic: 't', partition: 0, value: 'warm-up' });
    fake.partition('t', 3).leaderId = -1;
    const metadataBefore = fake.metadataRequests;
    await expect(producer.send({ topic: 't', partition: 3, value: 'stuck' })).rejects.toMatchObject({ errorName: 'REQUEST_TIMED_OUT', context: { partition: 3 } });
    // Metadata is re-asked at the retry backoff pace (about every 20 ms here), not in a tight loop.
    expect(fake.metadataRequests - metadataBefore).toBeLessThan(50);
  });

  it('rejects a record with a value of the wrong type or a bad timestamp on its own, without failing its batch', async () => {
    const { producer } = setup({ lingerMs: 10 });
    const good = producer.send({ topic: 't', partition: 0, value: 'fine' });
    await expect(producer.send({ topic: 't', partition: 0, value: 42 as unknown as string })).rejects.toMatchObject({ errorName: 'INVALID_RECORD' });
    await expect(producer.send({ topic: 't', partition: 0, value: 'x', timestamp: -5 })).rejects.toMatchObject({ errorName: 'INVALID_TIMESTAMP' });
    await expect(good).resolves.toMatchObject({ offset: 0 });
    await expect(producer.send({ topic: 't', partition: 0, value: new Uint8Array([104, 105]) })).resolves.toMatchObject({ offset: 1 });
  });

  it('sendWithCallback reports each record once through a shared callback, errors included', async () => {
    const { producer } = setup();
    const reports: (string | number)[] = [];
    const onDelivery = (err: Error | undefined, metadata: { offset: number } | undefined): void => {
      reports.push(err === undefined ? metadata!.offset : (err as RivuletError).errorName);
    };
    for (let i = 0; i < 3; i++) producer.sendWithCallback({ topic: 't', partition: 0, value: `v${i}` }, onDelivery);
    producer.sendWithCallback({ topic: '', value: 'x' }, onDelivery);
    await producer.flush();
    expect(reports.sort()).toEqual([0, 1, 2, 'INVALID_TOPIC_EXCEPTION']);
  });
});
