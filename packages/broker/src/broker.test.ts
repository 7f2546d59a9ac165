import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@rivulet/common';
import { CRC_START_OFFSET, HeaderField, crc32c, decodeRecordBatches, encodeRecordBatch } from '@rivulet/records';
import { Broker, type BrokerOptions } from './broker.js';
import { InProcessQuorum, testBrokerOptions } from './testing/in-process-quorum.js';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, type FetchRequest } from './types.js';

let dataDir: string;
let broker: Broker;
let quorum: InProcessQuorum;
let leaseValid = true;

function options(overrides: Partial<BrokerOptions> = {}): BrokerOptions {
  return testBrokerOptions(quorum, 1, dataDir, { leaseValid: () => leaseValid, ...overrides });
}

/** Stops the broker and starts it again on the same data directory and quorum. */
async function restart(overrides: Partial<BrokerOptions> = {}): Promise<void> {
  await broker.stop();
  broker = await Broker.start(options(overrides));
  await quorum.attach(broker);
}

function batch(values: string[], timestampMs = 1_700_000_000_000): Promise<Buffer> {
  return encodeRecordBatch({ records: values.map((v) => ({ key: null, value: Buffer.from(v), timestampMs })) });
}

async function produce(topic: string, partition: number, records: Buffer, acks = -1) {
  const response = await broker.produce({ acks, timeoutMs: 5000, topics: [{ name: topic, partitions: [{ partition, records }] }] });
  return response.topics[0]!.partitions[0]!;
}

function fetchRequest(topic: string, partition: number, fetchOffset: number, overrides: Partial<FetchRequest> = {}): FetchRequest {
  return {
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    topics: [{ name: topic, partitions: [{ partition, fetchOffset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }],
    ...overrides,
  };
}

async function fetchValues(topic: string, partition: number, fetchOffset: number): Promise<string[]> {
  const response = await broker.fetch(fetchRequest(topic, partition, fetchOffset));
  const p = response.topics[0]!.partitions[0]!;
  expect(p.errorCode).toBe(0);
  const batches = await decodeRecordBatches(p.records);
  return batches.flatMap((b) => b.records.filter((r) => r.offset >= fetchOffset).map((r) => r.value!.toString()));
}

async function create(name: string, partitions = 1, configs: Record<string, string> = {}) {
  const [result] = await broker.createTopics([{ name, partitions, replicationFactor: 1, configs }], false);
  return result!;
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'rivulet-broker-'));
  quorum = new InProcessQuorum([1]);
  leaseValid = true;
  broker = await Broker.start(options());
  await quorum.attach(broker);
});

afterEach(async () => {
  await broker.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('topics', () => {
  it('creates, lists, describes and deletes topics', async () => {
    expect((await create('orders', 3, { 'retention.ms': '1000' })).errorCode).toBe(0);
    const metadata = await broker.metadata({ topics: [], allowAutoTopicCreation: false });
    expect(metadata.topics.map((t) => t.name)).toEqual(['orders']);
    expect(metadata.topics[0]!.partitions.map((p) => [p.partition, p.leaderId])).toEqual([[0, 1], [1, 1], [2, 1]]);
    const [description] = broker.describeTopics(['orders']);
    expect(description!.configs['retention.ms']).toBe('1000');
    expect(description!.partitions).toHaveLength(3);
    expect((await broker.deleteTopics(['orders']))[0]!.errorCode).toBe(0);
    expect((await broker.metadata({ topics: [], allowAutoTopicCreation: false })).topics).toEqual([]);
  });

  it('refuses impossible topics with specific errors and stores nothing', async () => {
    const results = await broker.createTopics(
      [
        { name: 'bad/name', partitions: 1, replicationFactor: 1, configs: {} },
        { name: 'x'.repeat(250), partitions: 1, replicationFactor: 1, configs: {} },
        { name: '..', partitions: 1, replicationFactor: 1, configs: {} },
        { name: 'zero', partitions: 0, replicationFactor: 1, configs: {} },
        { name: 'rf', partitions: 1, replicationFactor: 3, configs: {} },
        { name: 'cfg', partitions: 1, replicationFactor: 1, configs: { 'retention.ms': 'soon' } },
        { name: 'unknown-cfg', partitions: 1, replicationFactor: 1, configs: { 'no.such.config': '1' } },
        { name: 'unclean-cfg', partitions: 1, replicationFactor: 1, configs: { 'unclean.leader.election.enable': 'yes' } },
      ],
      false,
    );
    expect(results.map((r) => r.errorCode)).toEqual([
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      ErrorCode.INVALID_PARTITIONS,
      ErrorCode.INVALID_REPLICATION_FACTOR,
      ErrorCode.INVALID_CONFIG,
      ErrorCode.INVALID_CONFIG,
      ErrorCode.INVALID_CONFIG,
    ]);
    for (const r of results) expect(r.errorMessage).not.toBe('');
    expect((await broker.metadata({ topics: [], allowAutoTopicCreation: false })).topics).toEqual([]);
  });

  it('alters topic configs through the controller, applies retention to the log, and refuses bad changes', async () => {
    await create('altered', 1, { 'retention.ms': '60000' });
    const [ok] = await broker.alterTopicConfigs([{ name: 'altered', changes: [{ key: 'retention.bytes', value: '4096' }, { key: 'retention.ms', value: null }] }], false);
    expect(ok!.errorCode).toBe(0);
    const [described] = broker.describeTopics(['altered']);
    expect(described!.explicitConfigKeys).toEqual(['retention.bytes']);
    expect(described!.configs['retention.ms']).toBe('-1');
    const stats = broker.partitionStats().find((p) => p.topic === 'altered');
    expect(stats).toBeDefined();
    const bad = await broker.alterTopicConfigs(
      [
        { name: 'altered', changes: [{ key: 'retention.bytes', value: 'big' }] },
        { name: 'altered', changes: [{ key: 'no.such.config', value: null }] },
        { name: 'altered', changes: [{ key: 'min.insync.replicas', value: '2' }] },
        { name: 'nowhere', changes: [{ key: 'retention.ms', value: '1' }] },
      ],
      false,
    );
    expect(bad.map((r) => r.errorCode)).toEqual([ErrorCode.INVALID_CONFIG, ErrorCode.INVALID_CONFIG, ErrorCode.INVALID_CONFIG, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    for (const r of bad) expect(r.errorMessage).not.toBe('');
    expect(broker.describeTopics(['altered'])[0]!.configs['retention.bytes']).toBe('4096');
    // The log takes the new retention at once: 4 KiB keeps only the newest batches.
    for (let i = 0; i < 8; i++) expect((await produce('altered', 0, await batch(['x'.repeat(1000)]), 1)).errorCode).toBe(0);
    await broker.applyRetention();
    expect(broker.partitionStats().find((p) => p.topic === 'altered')!.logStartOffset).toBeGreaterThan(0);
  });

  it('refuses a duplicate topic and a delete of an unknown one', async () => {
    await create('t');
    expect((await create('t')).errorCode).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
    expect((await broker.deleteTopics(['nope']))[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('validate-only creates nothing', async () => {
    const [result] = await broker.createTopics([{ name: 'dry', partitions: 2, replicationFactor: 1, configs: {} }], true);
    expect(result!.errorCode).toBe(0);
    expect(broker.describeTopics(['dry'])[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('auto-creates topics on metadata and produce only when enabled', async () => {
    expect((await produce('auto', 0, await batch(['a']))).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await restart({ autoCreateTopics: true, defaultPartitions: 2 });
    expect((await produce('auto', 1, await batch(['a']))).errorCode).toBe(0);
    const metadata = await broker.metadata({ topics: ['auto', 'auto2'], allowAutoTopicCreation: true });
    expect(metadata.topics.map((t) => [t.name, t.partitions.length])).toEqual([['auto', 2], ['auto2', 2]]);
  });
});

describe('produce and fetch', () => {
  it('assigns dense offsets and reads them back in order', async () => {
    await create('t');
    expect((await produce('t', 0, await batch(['a', 'b', 'c']))).baseOffset).toBe(0);
    expect((await produce('t', 0, await batch(['d']))).baseOffset).toBe(3);
    expect(await fetchValues('t', 0, 0)).toEqual(['a', 'b', 'c', 'd']);
    expect(await fetchValues('t', 0, 2)).toEqual(['c', 'd']);
    expect(await fetchValues('t', 0, 4)).toEqual([]);
  });

  it('keeps the records after a restart', async () => {
    await create('t', 2);
    await produce('t', 1, await batch(['x', 'y']));
    await restart();
    expect(await fetchValues('t', 1, 0)).toEqual(['x', 'y']);
    expect((await produce('t', 1, await batch(['z']))).baseOffset).toBe(2);
  });

  it('answers a long poll as soon as a record arrives', async () => {
    await create('t');
    const started = performance.now();
    const pending = broker.fetch(fetchRequest('t', 0, 0, { maxWaitMs: 10_000 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await produce('t', 0, await batch(['late']));
    const response = await pending;
    expect(performance.now() - started).toBeLessThan(5_000);
    const records = (await decodeRecordBatches(response.topics[0]!.partitions[0]!.records)).flatMap((b) => b.records);
    expect(records.map((r) => r.value!.toString())).toEqual(['late']);
  });

  it('waits at most maxWaitMs when nothing arrives', async () => {
    await create('t');
    const response = await broker.fetch(fetchRequest('t', 0, 0, { maxWaitMs: 100 }));
    expect(response.topics[0]!.partitions[0]!.records.length).toBe(0);
  });

  it('lists earliest, latest and by-timestamp offsets, and deletes records', async () => {
    await create('t');
    await produce('t', 0, await batch(['a', 'b'], 1000));
    await produce('t', 0, await batch(['c'], 2000));
    const list = async (timestamp: number) =>
      (await broker.listOffsets({ topics: [{ name: 't', partitions: [{ partition: 0, timestamp }] }] })).topics[0]!.partitions[0]!;
    expect((await list(EARLIEST_TIMESTAMP)).offset).toBe(0);
    expect((await list(LATEST_TIMESTAMP)).offset).toBe(3);
    expect((await list(1500)).offset).toBe(2);
    expect((await list(5000)).offset).toBe(-1);
    const deleted = await broker.deleteRecords({ topics: [{ name: 't', partitions: [{ partition: 0, offset: 2 }] }], timeoutMs: 1000 });
    expect(deleted.topics[0]!.partitions[0]!.lowWatermark).toBe(2);
    expect((await list(EARLIEST_TIMESTAMP)).offset).toBe(2);
    const beyond = await broker.deleteRecords({ topics: [{ name: 't', partitions: [{ partition: 0, offset: 99 }] }], timeoutMs: 1000 });
    expect(beyond.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const gone = await broker.fetch(fetchRequest('t', 0, 0));
    expect(gone.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });
});

describe('bad input', () => {
  async function expectRejected(records: Buffer, code: number): Promise<void> {
    await create('t');
    await produce('t', 0, await batch(['kept']));
    const result = await produce('t', 0, records);
    expect(result.errorCode).toBe(code);
    expect(result.errorMessage).not.toBe('');
    // Nothing stored changed, and the partition keeps serving.
    expect(await fetchValues('t', 0, 0)).toEqual(['kept']);
    expect((await produce('t', 0, await batch(['after']))).baseOffset).toBe(1);
  }

  it('refuses a batch with a wrong CRC', async () => {
    const bad = await batch(['a']);
    bad[bad.length - 1]! ^= 0xff;
    await expectRejected(bad, ErrorCode.CORRUPT_MESSAGE);
  });

  it('refuses a batch with a wrong magic', async () => {
    const bad = await batch(['a']);
    bad[HeaderField.magic] = 1;
    await expectRejected(bad, ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT);
  });

  it('refuses a batch whose offsets do not add up', async () => {
    const bad = await batch(['a', 'b']);
    bad.writeInt32BE(5, HeaderField.lastOffsetDelta);
    // Recompute the CRC so the check that fails is the offsets', not the checksum's.
    bad.writeUInt32BE(crc32c(bad.subarray(CRC_START_OFFSET)), HeaderField.crc);
    await expectRejected(bad, ErrorCode.INVALID_RECORD);
  });

  it('refuses a batch over the size limit', async () => {
    await restart({ topicDefaults: { retentionMs: -1, retentionBytes: -1, messageMaxBytes: 2048 } });
    await expectRejected(await batch(['x'.repeat(4096)]), ErrorCode.MESSAGE_TOO_LARGE);
  });

  it('refuses truncated bytes and garbage', async () => {
    const good = await batch(['a']);
    await expectRejected(good.subarray(0, good.length - 3), ErrorCode.CORRUPT_MESSAGE);
    expect((await produce('t', 0, Buffer.alloc(10))).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    // Byte 16 of plain text is not magic 2: reported as an unsupported message format, as Kafka does.
    expect((await produce('t', 0, Buffer.from('not a batch at all, just some text'))).errorCode).toBe(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT);
  });

  it('refuses unknown partitions and invalid topic names', async () => {
    await create('t', 2);
    expect((await produce('t', 2, await batch(['a']))).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await produce('t', -1, await batch(['a']))).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect((await produce('no such topic', 0, await batch(['a']))).errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    const fetched = await broker.fetch(fetchRequest('missing', 0, 0));
    expect(fetched.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('refuses invalid acks', async () => {
    await create('t');
    await expect(broker.produce({ acks: 2, timeoutMs: 1000, topics: [] })).rejects.toMatchObject({ code: ErrorCode.INVALID_REQUIRED_ACKS });
  });

  it('refuses negative fetch sizes and clamps huge ones', async () => {
    await create('t');
    await produce('t', 0, await batch(['a']));
    await expect(broker.fetch(fetchRequest('t', 0, 0, { maxBytes: -1 }))).rejects.toMatchObject({ code: ErrorCode.INVALID_FETCH_SIZE });
    const negativePartition = fetchRequest('t', 0, 0);
    negativePartition.topics[0]!.partitions[0]!.partitionMaxBytes = -5;
    expect((await broker.fetch(negativePartition)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.INVALID_FETCH_SIZE);
    const huge = await broker.fetch(fetchRequest('t', 0, 0, { maxBytes: 2 ** 31 - 1 }));
    expect(huge.topics[0]!.partitions[0]!.errorCode).toBe(0);
    expect(huge.topics[0]!.partitions[0]!.records.length).toBeGreaterThan(0);
  });

  it('answers an out-of-range fetch offset with OFFSET_OUT_OF_RANGE', async () => {
    await create('t');
    const response = await broker.fetch(fetchRequest('t', 0, 10));
    expect(response.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });
});

describe('as the committed metadata assigns replicas', () => {
  beforeEach(async () => {
    await broker.stop();
    quorum = new InProcessQuorum([1, 2, 3]);
    broker = await Broker.start(options());
    await quorum.attach(broker);
  });

  function leaderOf(topic: string, partition: number): number {
    return quorum.image.topicsByName.get(topic)!.partitions.get(partition)!.leader;
  }

  it('hosts only its replicas, leads only its partitions and names the leader otherwise', async () => {
    const [result] = await broker.createTopics([{ name: 'spread', partitions: 6, replicationFactor: 2, configs: {} }], false);
    expect(result!.errorCode).toBe(0);
    const metadata = await broker.metadata({ topics: ['spread'], allowAutoTopicCreation: false });
    expect(metadata.brokers.map((b) => b.nodeId)).toEqual([1, 2, 3]);
    const leaders = metadata.topics[0]!.partitions.map((p) => p.leaderId);
    // Placement spreads six leaders evenly over three brokers.
    expect([1, 2, 3].map((id) => leaders.filter((l) => l === id).length)).toEqual([2, 2, 2]);
    const hosted = broker.partitionStats().map((s) => s.partition);
    const expectedHosted = metadata.topics[0]!.partitions.filter((p) => p.replicas.includes(1)).map((p) => p.partition);
    expect(hosted.sort()).toEqual(expectedHosted.sort());
    for (const p of metadata.topics[0]!.partitions) {
      // acks=1: brokers 2 and 3 are only names in metadata here, so nothing replicates.
      const produced = await produce('spread', p.partition, await batch(['v']), 1);
      if (p.leaderId === 1) {
        expect(produced.errorCode).toBe(0);
      } else {
        expect(produced.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
        expect(produced.leaderId).toBe(p.leaderId);
        const fetched = (await broker.fetch(fetchRequest('spread', p.partition, 0))).topics[0]!.partitions[0]!;
        expect([fetched.errorCode, fetched.leaderId]).toEqual([ErrorCode.NOT_LEADER_OR_FOLLOWER, p.leaderId]);
      }
    }
  });

  it('follows leadership moves with the leader epoch, and writes in the new epoch', async () => {
    await broker.createTopics([{ name: 'moving', partitions: 1, replicationFactor: 3, configs: {} }], false);
    const topicId = quorum.image.topicsByName.get('moving')!.topicId;
    // Make broker 2 the leader, then back to broker 1: two leader changes, epoch 2.
    await quorum.commit([{ type: 'PartitionChange', topicId, partition: 0, leader: 2 }]);
    expect((await produce('moving', 0, await batch(['refused']))).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    // Brokers 2 and 3 are only names here: with an ISR of broker 1 alone, its writes commit at once.
    await quorum.commit([{ type: 'PartitionChange', topicId, partition: 0, leader: 1, isr: [1] }]);
    expect(leaderOf('moving', 0)).toBe(1);
    // acks=1: an ISR of one is below the topic's min.insync.replicas (2 for replication factor 3).
    expect((await produce('moving', 0, await batch(['accepted']), 1)).errorCode).toBe(0);
    const metadata = await broker.metadata({ topics: ['moving'], allowAutoTopicCreation: false });
    expect(metadata.topics[0]!.partitions[0]!.leaderEpoch).toBe(2);
    expect(await fetchValues('moving', 0, 0)).toEqual(['accepted']);
  });

  it('stops acting as leader when its lease lapsed', async () => {
    await broker.createTopics([{ name: 'leased', partitions: 1, replicationFactor: 1, configs: {} }], false);
    const topicId = quorum.image.topicsByName.get('leased')!.topicId;
    const replicas = quorum.image.topicsByName.get('leased')!.partitions.get(0)!.replicas;
    if (replicas[0] !== 1) await quorum.commit([{ type: 'PartitionChange', topicId, partition: 0, replicas: [1], isr: [1], leader: 1 }]);
    expect((await produce('leased', 0, await batch(['a']))).errorCode).toBe(0);
    leaseValid = false;
    const refused = await produce('leased', 0, await batch(['b']));
    expect([refused.errorCode, refused.leaderId]).toEqual([ErrorCode.NOT_LEADER_OR_FOLLOWER, -1]);
    leaseValid = true;
    expect((await produce('leased', 0, await batch(['c']))).baseOffset).toBe(1);
  });

  it('deletes a deleted topic\'s data, so a new topic of the same name starts empty', async () => {
    await broker.createTopics([{ name: 'again', partitions: 1, replicationFactor: 3, configs: {} }], false);
    const topicId = quorum.image.topicsByName.get('again')!.topicId;
    if (leaderOf('again', 0) !== 1) await quorum.commit([{ type: 'PartitionChange', topicId, partition: 0, leader: 1 }]);
    expect((await produce('again', 0, await batch(['old']), 1)).errorCode).toBe(0);
    expect((await broker.deleteTopics(['again']))[0]!.errorCode).toBe(0);
    expect(broker.partitionStats()).toEqual([]);
    await broker.createTopics([{ name: 'again', partitions: 1, replicationFactor: 3, configs: {} }], false);
    const newId = quorum.image.topicsByName.get('again')!.topicId;
    expect(newId).not.toBe(topicId);
    if (leaderOf('again', 0) !== 1) await quorum.commit([{ type: 'PartitionChange', topicId: newId, partition: 0, leader: 1 }]);
    expect(await fetchValues('again', 0, 0)).toEqual([]);
  });

  it('opens an adding replica as a follower, keeps a removing one until the reassignment completes, then deletes it', async () => {
    await broker.createTopics([{ name: 'moved', partitions: 1, replicationFactor: 1, configs: {} }], false);
    const hostedBy = (): number[] => broker.partitionStats().map((p) => p.partition);
    // The first topic's partition 0 is placed on broker 1.
    expect(quorum.image.topicsByName.get('moved')!.partitions.get(0)!.replicas).toEqual([1]);
    // Moving it to broker 2: broker 1 keeps its replica, being removed, until 2 is in sync.
    await broker.alterPartitionReassignments([{ topic: 'moved', partition: 0, targetReplicas: [2], cancel: false }]);
    expect(quorum.image.topicsByName.get('moved')!.partitions.get(0)!).toMatchObject({ replicas: [2, 1], removingReplicas: [1], leader: 1 });
    expect(hostedBy()).toEqual([0]);
    await quorum.expandIsr('moved', 0, [1, 2]);
    expect(quorum.image.topicsByName.get('moved')!.partitions.get(0)!).toMatchObject({ replicas: [2], isr: [2], leader: 2, removingReplicas: [] });
    expect(hostedBy()).toEqual([]);
    const from = 2;
    // Adding broker 1: it opens the replica as a follower while the reassignment waits.
    const [started] = await broker.alterPartitionReassignments([{ topic: 'moved', partition: 0, targetReplicas: [1], cancel: false }]);
    expect(started).toEqual({ topic: 'moved', partition: 0, errorCode: 0, errorMessage: '' });
    expect(hostedBy()).toEqual([0]);
    const listed = await broker.listPartitionReassignments([]);
    expect(listed.reassignments).toEqual([
      { topic: 'moved', partition: 0, replicas: [1, from], addingReplicas: [1], removingReplicas: [from], isr: [from], leaderId: from, addingNotInIsr: [1] },
    ]);
    expect((await produce('moved', 0, await batch(['x']))).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    // Cancelled: the replica it was adding goes again.
    const [cancelled] = await broker.alterPartitionReassignments([{ topic: 'moved', partition: 0, targetReplicas: [], cancel: true }]);
    expect(cancelled!.errorCode).toBe(0);
    expect(hostedBy()).toEqual([]);
    const [again] = await broker.alterPartitionReassignments([{ topic: 'moved', partition: 0, targetReplicas: [], cancel: true }]);
    expect(again!.errorCode).toBe(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
    const unknown = await broker.listPartitionReassignments(['nope']);
    expect(unknown.topicErrors.map((t) => [t.name, t.errorCode])).toEqual([['nope', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);
  });

  it('lists reassignments only once its own metadata is as new as the answer', async () => {
    await broker.createTopics([{ name: 'moved', partitions: 1, replicationFactor: 1, configs: {} }], false);
    await broker.alterPartitionReassignments([{ topic: 'moved', partition: 0, targetReplicas: [2], cancel: false }]);
    expect((await broker.metadata({ topics: ['moved'], allowAutoTopicCreation: false })).topics[0]!.partitions[0]!.replicas).toEqual([2, 1]);
    // The reassignment completes at the controller; this broker has not heard yet.
    const deliver = quorum.holdDelivery();
    await quorum.expandIsr('moved', 0, [1, 2]);
    let listed: Awaited<ReturnType<Broker['listPartitionReassignments']>> | undefined;
    const listing = broker.listPartitionReassignments([]).then((answer) => (listed = answer));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(listed).toBeUndefined();
    await deliver();
    await listing;
    // "None in progress", and this broker's metadata shows where the partition went.
    expect(listed!.reassignments).toEqual([]);
    expect((await broker.metadata({ topics: ['moved'], allowAutoTopicCreation: false })).topics[0]!.partitions[0]!.replicas).toEqual([2]);
  });

  it('drains a broker through the controller and reports a refused drain', async () => {
    await broker.createTopics([{ name: 'drained', partitions: 3, replicationFactor: 2, configs: {} }], false);
    const refused = await broker.drainBroker(9);
    expect([refused.errorCode, refused.started]).toEqual([ErrorCode.BROKER_ID_NOT_REGISTERED, []]);
    // RF 2 on 3 brokers: broker 1's replicas can go to the one broker not holding each partition.
    const drained = await broker.drainBroker(1);
    expect(drained.errorCode).toBe(0);
    expect(drained.started.length).toBeGreaterThan(0);
    for (const s of drained.started) {
      expect(s.targetReplicas).not.toContain(1);
      expect(s.leaderId).not.toBe(1);
    }
    // Broker 1 keeps its replicas (being removed) until the reassignments complete.
    expect(broker.partitionStats()).toHaveLength(drained.started.length);
  });

  it('adds partitions and refuses shrinking or impossible replication', async () => {
    await broker.createTopics([{ name: 'grow', partitions: 2, replicationFactor: 2, configs: {} }], false);
    const [grown, shrunk, unknown] = await broker.createPartitions(
      [
        { name: 'grow', count: 5 },
        { name: 'grow', count: 3 },
        { name: 'nope', count: 2 },
      ],
      false,
    );
    expect([grown!.errorCode, shrunk!.errorCode, unknown!.errorCode]).toEqual([0, ErrorCode.INVALID_PARTITIONS, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    const metadata = await broker.metadata({ topics: ['grow'], allowAutoTopicCreation: false });
    expect(metadata.topics[0]!.partitions.map((p) => p.replicas.length)).toEqual([2, 2, 2, 2, 2]);
    const [tooMany] = await broker.createTopics([{ name: 'rf4', partitions: 1, replicationFactor: 4, configs: {} }], false);
    expect(tooMany!.errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
    expect(tooMany!.errorMessage).toMatch(/3 available brokers/);
  });
});

describe('compacted topics', () => {
  function keyedBatch(records: [string | null, string | null][], timestampMs = 1_700_000_000_000): Promise<Buffer> {
    return encodeRecordBatch({ records: records.map(([key, value]) => ({ key: key === null ? null : Buffer.from(key), value: value === null ? null : Buffer.from(value), timestampMs })) });
  }

  const stats = (topic: string) => broker.partitionStats().find((p) => p.topic === topic)!;

  it('refuses a produce holding a record without a key with INVALID_RECORD, appending nothing', async () => {
    expect((await create('keyed', 1, { 'cleanup.policy': 'compact' })).errorCode).toBe(0);
    const refused = await produce('keyed', 0, await keyedBatch([['a', '1'], [null, 'keyless']]));
    expect(refused.errorCode).toBe(ErrorCode.INVALID_RECORD);
    expect(refused.errorCode).toBe(87);
    expect(refused.errorMessage).toMatch(/record 1 has no key/);
    expect(stats('keyed').logEndOffset).toBe(0);
    expect((await produce('keyed', 0, await keyedBatch([['a', '1'], ['b', null]]))).errorCode).toBe(0);
    // A topic that only deletes takes keyless records, and so does one switched back to delete.
    expect((await broker.alterTopicConfigs([{ name: 'keyed', changes: [{ key: 'cleanup.policy', value: 'delete' }] }], false))[0]!.errorCode).toBe(0);
    expect((await produce('keyed', 0, await keyedBatch([[null, 'keyless']]))).errorCode).toBe(0);
  });

  it('describes the compaction configs and refuses a min.compaction.lag.ms above max.compaction.lag.ms', async () => {
    expect((await create('described', 1, { 'cleanup.policy': 'delete,compact', 'min.cleanable.dirty.ratio': '0.2' })).errorCode).toBe(0);
    const [described] = broker.describeTopics(['described']);
    expect(described!.configs).toMatchObject({
      'cleanup.policy': 'compact,delete',
      'min.cleanable.dirty.ratio': '0.2',
      'min.compaction.lag.ms': '0',
      'max.compaction.lag.ms': '9223372036854775807',
      'delete.retention.ms': '86400000',
    });
    expect(described!.explicitConfigKeys).toEqual(['cleanup.policy', 'min.cleanable.dirty.ratio']);
    const conflicting = await create('conflicting', 1, { 'min.compaction.lag.ms': '5000', 'max.compaction.lag.ms': '1000' });
    expect(conflicting.errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect(conflicting.errorMessage).toMatch(/min\.compaction\.lag\.ms 5000 is larger than max\.compaction\.lag\.ms 1000/);
    const [altered] = await broker.alterTopicConfigs([{ name: 'described', changes: [{ key: 'max.compaction.lag.ms', value: '10' }, { key: 'min.compaction.lag.ms', value: '11' }] }], false);
    expect(altered!.errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect((await create('bad-policy', 1, { 'cleanup.policy': 'archive' })).errorCode).toBe(ErrorCode.INVALID_CONFIG);
  });

  it('cleans below the high watermark on its timer\'s call, and consumers read across the gaps; retention applies only with delete', async () => {
    // retention.ms of 1 ms would delete everything, but the policy is compact alone.
    expect((await create('cleaned', 1, { 'cleanup.policy': 'compact', 'retention.ms': '1' })).errorCode).toBe(0);
    await produce('cleaned', 0, await keyedBatch([['a', 'a1'], ['b', 'b1']], 1000));
    await produce('cleaned', 0, await keyedBatch([['a', 'a2']], 2000));
    await produce('cleaned', 0, await keyedBatch([['b', 'b2'], ['c', 'c1']], 3000));
    await produce('cleaned', 0, await keyedBatch([['a', 'a3']], 4000));
    expect(await broker.applyRetention()).toBe(0);
    expect(stats('cleaned').logStartOffset).toBe(0);
    expect(await broker.cleanLogs()).toBe(1);
    // The first batch is gone; offsets stay, the log starts at 0 as before. The last batch is
    // never cleaned (as Kafka's active segment), so a2 stays beside it until more arrives.
    const response = await broker.fetch(fetchRequest('cleaned', 0, 0));
    const fetched = response.topics[0]!.partitions[0]!;
    expect(fetched.errorCode).toBe(0);
    const batches = await decodeRecordBatches(fetched.records);
    expect(batches.map((b) => b.header.baseOffset)).toEqual([2, 3, 5]);
    expect(batches.flatMap((b) => b.records.map((r) => [r.offset, r.key!.toString(), r.value!.toString()]))).toEqual([
      [2, 'a', 'a2'],
      [3, 'b', 'b2'],
      [4, 'c', 'c1'],
      [5, 'a', 'a3'],
    ]);
    expect(fetched.nextOffset).toBe(6);
    expect(fetched.logStartOffset).toBe(0);
    expect(await fetchValues('cleaned', 0, 1)).toEqual(['a2', 'b2', 'c1', 'a3']);
    const byTime = await broker.listOffsets({ topics: [{ name: 'cleaned', partitions: [{ partition: 0, timestamp: 500 }] }] });
    expect(byTime.topics[0]!.partitions[0]).toMatchObject({ offset: 2, timestamp: 2000 });
    // One more batch makes a3's batch cleanable, a small dirty share: due only under a lower ratio.
    await produce('cleaned', 0, await keyedBatch([['d', 'd1']], 5000));
    expect(await broker.cleanLogs()).toBe(0);
    expect((await broker.alterTopicConfigs([{ name: 'cleaned', changes: [{ key: 'min.cleanable.dirty.ratio', value: '0.1' }] }], false))[0]!.errorCode).toBe(0);
    expect(await broker.cleanLogs()).toBe(1);
    expect(await fetchValues('cleaned', 0, 0)).toEqual(['b2', 'c1', 'a3', 'd1']);
    // Nothing dirty is left below the last batch: no pass.
    expect(await broker.cleanLogs()).toBe(0);
    // With delete in the policy too, retention applies again.
    expect((await broker.alterTopicConfigs([{ name: 'cleaned', changes: [{ key: 'cleanup.policy', value: 'compact,delete' }] }], false))[0]!.errorCode).toBe(0);
    expect(await broker.applyRetention()).toBeGreaterThan(0);
    expect(stats('cleaned').logStartOffset).toBe(6);
  });

  it('leaves a topic under its min.cleanable.dirty.ratio alone, and a cleaned log keeps its records across a restart', async () => {
    expect((await create('lazy', 1, { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.9' })).errorCode).toBe(0);
    expect((await create('eager', 1, { 'cleanup.policy': 'compact' })).errorCode).toBe(0);
    for (const topic of ['lazy', 'eager']) {
      await produce(topic, 0, await keyedBatch([['k', '1']]));
      await produce(topic, 0, await keyedBatch([['k', '2'], ['j', '1']]));
      await produce(topic, 0, await keyedBatch([['k', '3']]));
    }
    // Never cleaned: everything below the last batch is dirty, both are due.
    expect(await broker.cleanLogs()).toBe(2);
    expect(await broker.cleanLogs()).toBe(0);
    // Four more batches: about three quarters of the cleanable bytes are dirty.
    for (const topic of ['lazy', 'eager']) for (const key of ['p', 'q', 'r', 'k']) await produce(topic, 0, await keyedBatch([[key, 'new']]));
    expect(await broker.cleanLogs()).toBe(1);
    await restart();
    // k@1 is superseded by k@3; the newest k sits in the never-cleaned last batch.
    expect(await fetchValues('eager', 0, 0)).toEqual(['1', '3', 'new', 'new', 'new', 'new']);
    expect(await fetchValues('lazy', 0, 0)).toEqual(['2', '1', '3', 'new', 'new', 'new', 'new']);
  });
});
