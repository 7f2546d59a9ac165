import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@rivulet/common';
import { decodeRecordBatches, encodeRecordBatch } from '@rivulet/records';
import { Broker, type BrokerOptions } from './broker.js';
import { InProcessQuorum, testBrokerOptions } from './testing/in-process-quorum.js';

// Three brokers in this process, each on its own LevelDB data directory, following one
// in-process quorum (the real metadata decisions, committed at once). Followers replicate
// through direct calls to the leader's replica-fetch handlers: the same code the gRPC service
// runs, minus the wire.

const BROKER_IDS = [1, 2, 3] as const;
const REPLICA_LAG_TIME_MAX_MS = 400;

let quorum: InProcessQuorum;
let baseDir: string;
const brokers = new Map<number, Broker>();

function options(nodeId: number, overrides: Partial<BrokerOptions> = {}): BrokerOptions {
  return testBrokerOptions(quorum, nodeId, join(baseDir, `broker-${nodeId}`), {
    clusterId: 'replication-test',
    defaultReplicationFactor: 3,
    replicaLagTimeMaxMs: REPLICA_LAG_TIME_MAX_MS,
    ...overrides,
  });
}

async function startBroker(nodeId: number, overrides: Partial<BrokerOptions> = {}): Promise<Broker> {
  const broker = await Broker.start(options(nodeId, overrides));
  brokers.set(nodeId, broker);
  await quorum.attach(broker);
  return broker;
}

async function stopBroker(nodeId: number): Promise<void> {
  await brokers.get(nodeId)!.stop();
  brokers.delete(nodeId);
}

/** Polls `condition` every 10 ms; fails with `what` after `timeoutMs`. */
async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function registration(topic: string, partition = 0) {
  return quorum.image.topicsByName.get(topic)!.partitions.get(partition)!;
}

function stats(nodeId: number, topic: string, partition = 0) {
  return brokers.get(nodeId)!.partitionStats().find((s) => s.topic === topic && s.partition === partition);
}

async function produce(nodeId: number, topic: string, values: string[], acks: number, timeoutMs = 5_000) {
  const records = await encodeRecordBatch({ records: values.map((v) => ({ key: null, value: Buffer.from(v), timestampMs: 1_700_000_000_000 })) });
  const response = await brokers.get(nodeId)!.produce({ acks, timeoutMs, topics: [{ name: topic, partitions: [{ partition: 0, records }] }] });
  return response.topics[0]!.partitions[0]!;
}

/** Every record value in a replica's log, read straight from the log (followers included). */
async function logValues(nodeId: number, topic: string): Promise<string[]> {
  const broker = brokers.get(nodeId)!;
  const replica = (broker as unknown as { partitions: Map<string, { topic: string; log: { read(from: number, max: number): Promise<{ records: Buffer }> } }> }).partitions;
  const entry = [...replica.values()].find((p) => p.topic === topic)!;
  const read = await entry.log.read(0, 1 << 20);
  return (await decodeRecordBatches(read.records)).flatMap((b) => b.records.map((r) => r.value!.toString()));
}

async function createTopic(name: string, configs: Record<string, string> = {}, replicationFactor = 3): Promise<number> {
  const [result] = await brokers.get(1)!.createTopics([{ name, partitions: 1, replicationFactor, configs }], false);
  expect(result!.errorCode).toBe(0);
  return registration(name).leader;
}

beforeEach(async () => {
  baseDir = await mkdtemp(join(tmpdir(), 'rivulet-replication-'));
  quorum = new InProcessQuorum([...BROKER_IDS]);
  for (const id of BROKER_IDS) await startBroker(id);
});

afterEach(async () => {
  for (const id of [...brokers.keys()]) await stopBroker(id);
  await rm(baseDir, { recursive: true, force: true });
});

describe('replication between three brokers', () => {
  it('acknowledges acks=all once every ISR member has the batch, and followers hold the same log', async () => {
    const leader = await createTopic('replicated');
    const produced = await produce(leader, 'replicated', ['a', 'b', 'c'], -1);
    expect(produced.errorCode).toBe(0);
    expect(produced.baseOffset).toBe(0);
    // acks=all answered: the high watermark passed the batch, so every ISR member has it.
    expect(stats(leader, 'replicated')!.highWatermark).toBe(3);
    for (const id of BROKER_IDS) {
      expect(stats(id, 'replicated')!.logEndOffset).toBeGreaterThanOrEqual(3);
      expect(await logValues(id, 'replicated')).toEqual(['a', 'b', 'c']);
    }
    // Followers learn the high watermark with their next fetch.
    await until('followers know the high watermark', () => BROKER_IDS.every((id) => stats(id, 'replicated')!.highWatermark === 3));
  });

  it('wakes parked follower fetches for new data, not for a high watermark that moved alone', async () => {
    const leader = await createTopic('quiet');
    // The leader's waiters of follower fetches: a wake makes each parked fetch read its log again.
    const waiters = (brokers.get(leader)! as unknown as { replicaWaiters: { wake(key: string): void } }).replicaWaiters;
    const wake = waiters.wake.bind(waiters);
    let wakes = 0;
    waiters.wake = (key) => {
      wakes++;
      wake(key);
    };
    const produces = 20;
    for (let i = 0; i < produces; i++) expect((await produce(leader, 'quiet', [`v${i}`], -1)).errorCode).toBe(0);
    // One wake per append (and one per ISR change, should a slow follower drop out). Each
    // acks=all produce also moves the high watermark once the followers fetched it: waking them
    // for that too made 2 per produce. Followers learn it with their next fetch, as in Kafka.
    expect(wakes).toBeGreaterThanOrEqual(produces);
    expect(wakes).toBeLessThan(produces * 1.5);
    for (const id of BROKER_IDS) expect(await logValues(id, 'quiet')).toHaveLength(produces);
    await produce(leader, 'quiet', ['last'], -1);
    await until('followers know the high watermark of the first 20', () => BROKER_IDS.every((id) => stats(id, 'quiet')!.highWatermark >= produces));
  });

  it('refuses replica fetches once stopped, so followers back off instead of fetching again at once', async () => {
    const leader = await createTopic('stopping');
    const follower = BROKER_IDS.find((id) => id !== leader)!;
    const { topicId } = registration('stopping');
    const stopped = brokers.get(leader)!;
    await stopBroker(leader);
    const fetch = stopped.replicaFetch({
      replicaId: follower,
      brokerEpoch: quorum.brokerEpochOf(follower),
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 1 << 20,
      partitions: [{ topic: 'stopping', topicId, partition: 0, currentLeaderEpoch: registration('stopping').leaderEpoch, fetchOffset: 0, logStartOffset: 0, partitionMaxBytes: 1 << 20 }],
    });
    await expect(fetch).rejects.toMatchObject({ errorName: 'NOT_LEADER_OR_FOLLOWER' });
  });

  it('shrinks the ISR of a follower that stopped, then refuses acks=all below min.insync.replicas, and lets it rejoin', async () => {
    const leader = await createTopic('shrinking');
    const [a, b] = BROKER_IDS.filter((id) => id !== leader);
    expect((await produce(leader, 'shrinking', ['one'], -1)).errorCode).toBe(0);

    // A stopped follower at the leader's log end is not behind until something is written
    // (Kafka's rule). The next write waits for it until replica.lag.time.max.ms passed, when
    // the leader has the controller drop it; it then commits with the two left
    // (min.insync.replicas is 2 for replication factor 3).
    await stopBroker(a!);
    expect((await produce(leader, 'shrinking', ['two'], -1)).errorCode).toBe(0);
    expect(registration('shrinking').isr).not.toContain(a);

    // With the second follower gone too, a write is appended, waits for the shrink, and ends
    // below min.insync.replicas: written but not acknowledged as replicated.
    await stopBroker(b!);
    expect((await produce(leader, 'shrinking', ['three'], -1)).errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    expect(registration('shrinking').isr).toEqual([leader]);
    // Now refused before appending; acks=1 needs the leader only.
    const logEndBefore = stats(leader, 'shrinking')!.logEndOffset;
    expect((await produce(leader, 'shrinking', ['refused'], -1)).errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(stats(leader, 'shrinking')!.logEndOffset).toBe(logEndBefore);
    expect((await produce(leader, 'shrinking', ['four'], 1)).errorCode).toBe(0);

    // Back: they catch up from the leader and rejoin the ISR.
    await startBroker(a!);
    await startBroker(b!);
    await until('both followers rejoin the ISR', () => registration('shrinking').isr.length === 3, 10_000);
    for (const id of BROKER_IDS) expect(await logValues(id, 'shrinking')).toEqual(['one', 'two', 'three', 'four']);
    expect((await produce(leader, 'shrinking', ['five'], -1)).errorCode).toBe(0);
  });

  it('times out an acks=all write that a live but silent ISR follower holds back', async () => {
    const leader = await createTopic('stalled', { 'min.insync.replicas': '1' });
    const followers = BROKER_IDS.filter((id) => id !== leader);
    for (const id of followers) await stopBroker(id);
    // Both followers are still in the ISR until the leader's lag check drops them: a write
    // with a shorter timeout than that is written but not acknowledged.
    const answer = await produce(leader, 'stalled', ['held'], -1, 100);
    expect(answer.errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT);
    expect(stats(leader, 'stalled')!.logEndOffset).toBe(1);
    expect(stats(leader, 'stalled')!.highWatermark).toBe(0);
  });

  it('truncates what a deposed leader wrote but never replicated, and follows the new leader', async () => {
    const first = await createTopic('diverging');
    const topicId = quorum.image.topicsByName.get('diverging')!.topicId;
    expect((await produce(first, 'diverging', ['a'], -1)).errorCode).toBe(0);
    const others = BROKER_IDS.filter((id) => id !== first);
    for (const id of others) await stopBroker(id);
    // Written by the old leader alone (acks=1): never committed.
    expect((await produce(first, 'diverging', ['lost'], 1)).errorCode).toBe(0);
    expect(await logValues(first, 'diverging')).toEqual(['a', 'lost']);

    // The controller moves leadership to a follower that did not get it (still in the ISR).
    const next = others[0]!;
    await quorum.commit([{ type: 'PartitionChange', topicId, partition: 0, leader: next }]);
    for (const id of others) await startBroker(id);
    expect((await produce(next, 'diverging', ['b'], 1)).errorCode).toBe(0);

    // The deposed leader asks where its epoch ended, cuts 'lost' and fetches 'b'.
    await until('every replica holds a, b', async () => {
      for (const id of BROKER_IDS) if ((await logValues(id, 'diverging')).join() !== 'a,b') return false;
      return true;
    });
    expect(stats(first, 'diverging')!.logEndOffset).toBe(2);
  });

  it('copies a replica a reassignment adds no faster than the reassignment throttle, then completes', async () => {
    const leader = await createTopic('throttled', {}, 2);
    const replicas = registration('throttled').replicas;
    const added = BROKER_IDS.find((id) => !replicas.includes(id))!;
    const payload = 'x'.repeat(1000);
    for (let i = 0; i < 6; i++) expect((await produce(leader, 'throttled', Array.from({ length: 100 }, () => payload), 1)).errorCode).toBe(0);
    const throttleBytesPerSec = 200_000;
    await stopBroker(added);
    await startBroker(added, { reassignmentThrottleBytesPerSec: throttleBytesPerSec });
    const startedMs = Date.now();
    const answer = await quorum.alterPartitionReassignments({ partitions: [{ topic: 'throttled', partition: 0, targetReplicas: [...replicas, added], cancel: false }] });
    expect(answer.results[0]!.errorCode).toBe(0);
    // Never ahead of the bucket: a second's burst, the rate since the start, and one answer
    // (a fetch may overdraw by the batch it returns, about 100 kB here).
    const ceiling = (): number => throttleBytesPerSec * (1 + (Date.now() - startedMs) / 1000) + 110_000;
    await until('the added replica caught up and the reassignment completed', () => {
      const copied = stats(added, 'throttled')?.sizeBytes ?? 0;
      expect(copied).toBeLessThanOrEqual(ceiling());
      return registration('throttled').addingReplicas.length === 0;
    }, 15_000);
    expect(registration('throttled').replicas).toEqual([...replicas, added]);
    expect(stats(added, 'throttled')!.logEndOffset).toBe(600);
    // ~600 kB at 200 kB/s with a 200 kB burst: about 2 s, not the few ms unthrottled copying takes.
    expect(Date.now() - startedMs).toBeGreaterThan(1_000);
  });

  it('answers a consumer fetch that names an old leader epoch FENCED_LEADER_EPOCH and a future one UNKNOWN_LEADER_EPOCH', async () => {
    const first = await createTopic('epochs');
    expect((await produce(first, 'epochs', ['a'], -1)).errorCode).toBe(0);
    // A leader change: the partition moves to leader epoch 1 on another broker.
    const { topicId, leaderEpoch: firstEpoch } = registration('epochs');
    const leader = BROKER_IDS.find((id) => id !== first)!;
    await quorum.commit([{ type: 'PartitionChange', topicId, partition: 0, leader }]);
    const { leaderEpoch } = registration('epochs');
    expect(leaderEpoch).toBe(firstEpoch + 1);
    const fetchWith = async (currentLeaderEpoch: number) => {
      const response = await brokers.get(leader)!.fetch({
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        topics: [{ name: 'epochs', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch }] }],
      });
      return response.topics[0]!.partitions[0]!;
    };
    expect((await fetchWith(leaderEpoch)).errorCode).toBe(0);
    expect((await fetchWith(-1)).errorCode).toBe(0);
    expect((await fetchWith(firstEpoch)).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect((await fetchWith(leaderEpoch + 1)).errorCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
  });

  it('answers a consumer fetching between a new leader\'s high watermark and its log end with no records, not OFFSET_OUT_OF_RANGE', async () => {
    const first = await createTopic('handover');
    const { topicId } = registration('handover');
    const next = BROKER_IDS.find((id) => id !== first)!;
    // The next leader replicates every record but never hears the high watermark move past 0,
    // as when the old leader dies before the fetch answer that would have told it.
    await stopBroker(next);
    await startBroker(next, {
      replicaTransportFactory: (leaderId) => {
        const transport = quorum.replicaTransportFactory(leaderId);
        return {
          ...transport,
          replicaFetch: async (request, timeoutMs) => {
            const response = await transport.replicaFetch(request, timeoutMs);
            return { ...response, partitions: response.partitions.map((p) => ({ ...p, highWatermark: 0 })) };
          },
        };
      },
    });
    expect((await produce(first, 'handover', ['a', 'b', 'c'], -1)).errorCode).toBe(0);
    // A consumer of the old leader read everything: its position is 3.
    await until('the next leader holds every record', () => stats(next, 'handover')!.logEndOffset === 3);
    for (const id of BROKER_IDS.filter((id) => id !== next)) await stopBroker(id);
    await quorum.commit([{ type: 'PartitionChange', topicId, partition: 0, leader: next }]);
    expect(stats(next, 'handover')!.highWatermark).toBe(0);
    const fetchAt = async (fetchOffset: number) =>
      (await brokers.get(next)!.fetch({ maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, topics: [{ name: 'handover', partitions: [{ partition: 0, fetchOffset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }] }))
        .topics[0]!.partitions[0]!;
    // Kafka's rule: out of range is below the log start or past the log end; above the high
    // watermark the consumer waits. An error here sends consumers back to autoOffsetReset.
    const atPosition = await fetchAt(3);
    expect(atPosition.errorCode).toBe(0);
    expect(atPosition.records.length).toBe(0);
    expect(atPosition.highWatermark).toBe(0);
    expect((await fetchAt(1)).errorCode).toBe(0);
    expect((await fetchAt(4)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('answers a follower with a stale leader epoch FENCED_LEADER_EPOCH and one of another topic UNKNOWN_TOPIC_ID', async () => {
    const leader = await createTopic('fenced');
    const registered = registration('fenced');
    const follower = BROKER_IDS.find((id) => id !== leader)!;
    const base = { topic: 'fenced', partition: 0, fetchOffset: 0, logStartOffset: 0, partitionMaxBytes: 1 << 20 };
    const response = await brokers.get(leader)!.replicaFetch({
      replicaId: follower,
      brokerEpoch: quorum.brokerEpochOf(follower),
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      partitions: [
        { ...base, topicId: registered.topicId, currentLeaderEpoch: registered.leaderEpoch - 1 },
        { ...base, topicId: 'another-topic-id', currentLeaderEpoch: registered.leaderEpoch },
      ],
    });
    expect(response.partitions.map((p) => p.errorCode)).toEqual([ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_TOPIC_ID]);
    await expect(
      brokers.get(leader)!.replicaFetch({ replicaId: follower, brokerEpoch: quorum.brokerEpochOf(follower) - 1, maxWaitMs: 0, minBytes: 1, maxBytes: 1, partitions: [] }),
    ).rejects.toMatchObject({ errorName: 'STALE_BROKER_EPOCH' });
    await expect(brokers.get(leader)!.replicaFetch({ replicaId: 99, brokerEpoch: 1, maxWaitMs: 0, minBytes: 1, maxBytes: 1, partitions: [] })).rejects.toMatchObject({
      errorName: 'BROKER_ID_NOT_REGISTERED',
    });
  });
});

interface IdempotentSend {
  producer: { producerId: number; producerEpoch: number };
  baseSequence: number;
  values: string[];
  acks?: number;
  compression?: 'gzip' | 'none';
}

function idempotentRecords(send: IdempotentSend): Promise<Buffer> {
  const records = send.values.map((v) => ({ key: null, value: Buffer.from(v), timestampMs: 1_700_000_000_000 }));
  return encodeRecordBatch({ ...send.producer, baseSequence: send.baseSequence, compression: send.compression ?? 'none', records });
}

/** One idempotent batch to partition 0 of `topic` through broker `nodeId` (acks=all unless told). */
async function produceIdempotent(nodeId: number, topic: string, send: IdempotentSend) {
  const records = await idempotentRecords(send);
  const response = await brokers.get(nodeId)!.produce({ acks: send.acks ?? -1, timeoutMs: 5_000, topics: [{ name: topic, partitions: [{ partition: 0, records }] }] });
  return response.topics[0]!.partitions[0]!;
}

describe('idempotent producers across brokers', () => {

  it('hands out producer ids unique across brokers and refuses transactional ids', async () => {
    const ids = await Promise.all(BROKER_IDS.flatMap((id) => [0, 1].map(() => brokers.get(id)!.initProducerId({ transactionalId: null, producerId: -1, producerEpoch: -1 }))));
    expect(new Set(ids.map((r) => r.producerId)).size).toBe(ids.length);
    expect(ids.every((r) => r.producerEpoch === 0 && r.producerId > 0)).toBe(true);
    await expect(brokers.get(1)!.initProducerId({ transactionalId: 'tx', producerId: -1, producerEpoch: -1 })).rejects.toMatchObject({ code: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED });
    await expect(brokers.get(1)!.initProducerId({ transactionalId: null, producerId: 5, producerEpoch: -1 })).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUEST });
  });

  it('answers a retry sent to the new leader with the original offset, and keeps checking sequences there', async () => {
    const first = await createTopic('idempotent');
    const topicId = quorum.image.topicsByName.get('idempotent')!.topicId;
    const producer = await brokers.get(first)!.initProducerId({ transactionalId: null, producerId: -1, producerEpoch: -1 });
    expect((await produceIdempotent(first, 'idempotent', { producer, baseSequence: 0, values: ['a', 'b'] })).baseOffset).toBe(0);
    expect((await produceIdempotent(first, 'idempotent', { producer, baseSequence: 2, values: ['c'] })).baseOffset).toBe(2);

    // Leadership moves; the producer retries its last batch (its answer was lost) at the new leader.
    const next = BROKER_IDS.find((id) => id !== first)!;
    await quorum.commit([{ type: 'PartitionChange', topicId, partition: 0, leader: next }]);
    const retry = await produceIdempotent(next, 'idempotent', { producer, baseSequence: 2, values: ['c'] });
    expect(retry).toMatchObject({ errorCode: 0, baseOffset: 2 });
    expect((await produceIdempotent(next, 'idempotent', { producer, baseSequence: 5, values: ['gap'] })).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect((await produceIdempotent(next, 'idempotent', { producer, baseSequence: 3, values: ['d'] })).baseOffset).toBe(3);
    const bumped = { producerId: producer.producerId, producerEpoch: 1 };
    expect((await produceIdempotent(next, 'idempotent', { producer: bumped, baseSequence: 0, values: ['e'] })).baseOffset).toBe(4);
    expect((await produceIdempotent(next, 'idempotent', { producer, baseSequence: 4, values: ['zombie'] })).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    const unknown = { producerId: producer.producerId + 1, producerEpoch: 0 };
    expect((await produceIdempotent(next, 'idempotent', { producer: unknown, baseSequence: 9, values: ['x'] })).errorCode).toBe(ErrorCode.UNKNOWN_PRODUCER_ID);
    await until('every replica holds a..e once', async () => {
      for (const id of BROKER_IDS) if ((await logValues(id, 'idempotent')).join() !== 'a,b,c,d,e') return false;
      return true;
    });
  });
});

describe('idempotent producers: ordering and truncation', () => {
  it('appends a producer\'s pipelined batches in the order they arrived, even when the first takes longer to validate', async () => {
    const leader = await createTopic('pipelined', {}, 1);
    const broker = brokers.get(leader)!;
    const producer = await broker.initProducerId({ transactionalId: null, producerId: -1, producerEpoch: -1 });
    // A large gzip batch (decompressed off the main thread to be checked) followed at once by a small plain one.
    const big = await idempotentRecords({ producer, baseSequence: 0, values: Array.from({ length: 2000 }, (_, i) => `big-${i}-${'x'.repeat(200)}`), compression: 'gzip' });
    const small = await idempotentRecords({ producer, baseSequence: 2000, values: ['small'] });
    const send = (records: Buffer) => broker.produce({ acks: 1, timeoutMs: 5_000, topics: [{ name: 'pipelined', partitions: [{ partition: 0, records }] }] }).then((r) => r.topics[0]!.partitions[0]!);
    const [first, second] = await Promise.all([send(big), send(small)]);
    expect(first).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(second).toMatchObject({ errorCode: 0, baseOffset: 2000 });
  });

  it('appends plain pipelined batches in the order they arrived too', async () => {
    const leader = await createTopic('pipelined-plain', {}, 1);
    const broker = brokers.get(leader)!;
    const plain = (values: string[], compression: 'gzip' | 'none') =>
      encodeRecordBatch({ compression, records: values.map((v) => ({ key: null, value: Buffer.from(v), timestampMs: 1_700_000_000_000 })) });
    const big = await plain(Array.from({ length: 2000 }, (_, i) => `big-${i}-${'x'.repeat(200)}`), 'gzip');
    const small = await plain(['small'], 'none');
    const send = (records: Buffer) => broker.produce({ acks: 1, timeoutMs: 5_000, topics: [{ name: 'pipelined-plain', partitions: [{ partition: 0, records }] }] }).then((r) => r.topics[0]!.partitions[0]!);
    const [first, second] = await Promise.all([send(big), send(small)]);
    expect(first).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(second).toMatchObject({ errorCode: 0, baseOffset: 2000 });
  });

  it('a deposed leader truncates a batch it never replicated, and takes the new leader\'s batch of that sequence into its producer state', async () => {
    const first = await createTopic('idem-diverging');
    const topicId = quorum.image.topicsByName.get('idem-diverging')!.topicId;
    const producer = await brokers.get(first)!.initProducerId({ transactionalId: null, producerId: -1, producerEpoch: -1 });
    const send = (nodeId: number, baseSequence: number, values: string[], acks: number) => produceIdempotent(nodeId, 'idem-diverging', { producer, baseSequence, values, acks });
    expect((await send(first, 0, ['a'], -1)).errorCode).toBe(0);
    const others = BROKER_IDS.filter((id) => id !== first);
    for (const id of others) await stopBroker(id);
    // Sequence 1 reaches the old leader alone (acks=1): never committed.
    expect((await send(first, 1, ['lost-1', 'lost-2'], 1)).errorCode).toBe(0);

    const next = others[0]!;
    await quorum.commit([{ type: 'PartitionChange', topicId, partition: 0, leader: next }]);
    for (const id of others) await startBroker(id);
    // The producer retries sequence 1 at the new leader, which never saw it: a new append.
    expect(await send(next, 1, ['b-1', 'b-2'], 1)).toMatchObject({ errorCode: 0, baseOffset: 1 });
    await until('every replica holds a, b-1, b-2', async () => {
      for (const id of BROKER_IDS) if ((await logValues(id, 'idem-diverging')).join() !== 'a,b-1,b-2') return false;
      return true;
    });
    // Leadership returns to the deposed leader: its producer state is the new leader's history.
    await quorum.commit([{ type: 'PartitionChange', topicId, partition: 0, leader: first }]);
    expect(await send(first, 1, ['b-1', 'b-2'], -1)).toMatchObject({ errorCode: 0, baseOffset: 1 });
    expect(await send(first, 3, ['c'], -1)).toMatchObject({ errorCode: 0, baseOffset: 3 });
    expect(await logValues(first, 'idem-diverging')).toEqual(['a', 'b-1', 'b-2', 'c']);
  });
});

describe('compacted topics across brokers', () => {
  /** The batches of a replica's log as [baseOffset, lastOffset, [offset, key, value] of each record]. */
  async function logBatches(nodeId: number, topic: string) {
    const broker = brokers.get(nodeId)!;
    const replicas = (broker as unknown as { partitions: Map<string, { topic: string; log: { read(from: number, max: number): Promise<{ records: Buffer }> } }> }).partitions;
    const entry = [...replicas.values()].find((p) => p.topic === topic)!;
    const decoded = await decodeRecordBatches((await entry.log.read(0, 1 << 20)).records);
    return decoded.map((b) => [b.header.baseOffset, b.header.baseOffset + b.header.lastOffsetDelta, b.records.map((r) => [r.offset, r.key?.toString(), r.value?.toString()])]);
  }

  async function produceKeyed(nodeId: number, topic: string, records: [string, string][], idempotent?: { producerId: number; producerEpoch: number; baseSequence: number }) {
    const batch = await encodeRecordBatch({ ...idempotent, records: records.map(([key, value]) => ({ key: Buffer.from(key), value: Buffer.from(value), timestampMs: 1_700_000_000_000 })) });
    const response = await brokers.get(nodeId)!.produce({ acks: -1, timeoutMs: 5_000, topics: [{ name: topic, partitions: [{ partition: 0, records: batch }] }] });
    return response.topics[0]!.partitions[0]!;
  }

  it('leader and follower each clean below their high watermark, and a replica added later copies the cleaned log with its gaps and producer state', async () => {
    const leader = await createTopic('compacted', { 'cleanup.policy': 'compact', 'min.insync.replicas': '1' }, 2);
    const { replicas, topicId } = registration('compacted');
    const follower = replicas.find((id) => id !== leader)!;
    const added = BROKER_IDS.find((id) => !replicas.includes(id))!;
    const producer = await brokers.get(leader)!.initProducerId({ transactionalId: null, producerId: -1, producerEpoch: -1 });
    expect(await produceKeyed(leader, 'compacted', [['b', 'b0']])).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(await produceKeyed(leader, 'compacted', [['a', 'a1'], ['b', 'b1']], { ...producer, baseSequence: 0 })).toMatchObject({ errorCode: 0, baseOffset: 1 });
    expect(await produceKeyed(leader, 'compacted', [['a', 'a2']], { ...producer, baseSequence: 2 })).toMatchObject({ errorCode: 0, baseOffset: 3 });
    expect(await produceKeyed(leader, 'compacted', [['b', 'b2'], ['a', 'a3']])).toMatchObject({ errorCode: 0, baseOffset: 4 });
    expect(await produceKeyed(leader, 'compacted', [['c', 'c1']])).toMatchObject({ errorCode: 0, baseOffset: 6 });
    await until('the follower knows the high watermark', () => stats(follower, 'compacted')?.highWatermark === 7);

    expect(await brokers.get(leader)!.cleanLogs()).toBe(1);
    expect(await brokers.get(follower)!.cleanLogs()).toBe(1);
    // The first batch is gone (offset 0 is a gap); the producer's two batches lost every record
    // but stay, empty, for its sequence.
    const cleaned = [
      [1, 2, []],
      [3, 3, []],
      [4, 5, [[4, 'b', 'b2'], [5, 'a', 'a3']]],
      [6, 6, [[6, 'c', 'c1']]],
    ];
    expect(await logBatches(leader, 'compacted')).toEqual(cleaned);
    expect(await logBatches(follower, 'compacted')).toEqual(cleaned);

    // A replica a reassignment adds fetches from offset 0, receives the batch at 1 and jumps the
    // gap, copying the cleaned log as it is.
    const answer = await quorum.alterPartitionReassignments({ partitions: [{ topic: 'compacted', partition: 0, targetReplicas: [...replicas, added], cancel: false }] });
    expect(answer.results[0]!.errorCode).toBe(0);
    await until('the added replica caught up and the reassignment completed', () => registration('compacted').addingReplicas.length === 0 && stats(added, 'compacted')?.logEndOffset === 7, 10_000);
    expect(await logBatches(added, 'compacted')).toEqual(cleaned);

    // It learned the producer from the empty batches: as leader it takes the producer's next sequence.
    await quorum.commit([{ type: 'PartitionChange', topicId, partition: 0, leader: added }]);
    expect(await produceKeyed(added, 'compacted', [['a', 'a4']], { ...producer, baseSequence: 3 })).toMatchObject({ errorCode: 0, baseOffset: 7 });
    // A retry of it is a duplicate, answered with its offset.
    expect(await produceKeyed(added, 'compacted', [['a', 'a4']], { ...producer, baseSequence: 3 })).toMatchObject({ errorCode: 0, baseOffset: 7 });
    await until('the old leader follows to the new end', () => stats(leader, 'compacted')?.logEndOffset === 8);
  });
});
