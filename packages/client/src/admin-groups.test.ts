import { RivuletError } from '@rivulet/common';
import type { clientApi } from '@rivulet/proto';
import { encodeRecordBatchSync } from '@rivulet/records';
import { afterEach, describe, expect, it } from 'vitest';
import { RivuletClient } from './client.js';
import { FakeCluster } from './fake-broker.js';
import { computeGroupLag } from './group/group-lag.js';
import { tpKey } from './types.js';

const clients: RivuletClient[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
});

function batch(count: number): Buffer {
  return encodeRecordBatchSync({ records: Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`) })) });
}

/** A fake cluster of two brokers with topic t of 3 partitions holding 10, 20 and 0 records. */
function setup() {
  const fake = new FakeCluster(2);
  fake.createTopic('t', 3);
  fake.append('t', 0, batch(10));
  fake.append('t', 1, batch(20));
  const client = new RivuletClient({ bootstrap: fake.addressOf(1), transportFactory: fake.transportFactory(), retryBackoffMs: 1, retryBackoffMaxMs: 5, requestTimeoutMs: 2_000 });
  clients.push(client);
  return { fake, client, admin: client.admin() };
}

describe('computeGroupLag', () => {
  it('is the high watermark minus the committed offset, summed over the partitions whose lag is known, sorted', () => {
    const { partitions, totalLag } = computeGroupLag([
      { topic: 'b', partition: 0, committedOffset: 5, highWatermark: 5 },
      { topic: 'a', partition: 1, committedOffset: 3, highWatermark: 10 },
      { topic: 'a', partition: 0, committedOffset: null, highWatermark: 4 },
      { topic: 'a', partition: 2, committedOffset: 7, highWatermark: null },
    ]);
    expect(partitions.map((p) => [p.topic, p.partition, p.lag])).toEqual([
      ['a', 0, null],
      ['a', 1, 7],
      ['a', 2, null],
      ['b', 0, 0],
    ]);
    expect(totalLag).toBe(7);
  });

  it('counts a committed offset beyond the high watermark as no lag, and keeps what else a partition carries', () => {
    const { partitions, totalLag } = computeGroupLag([
      { topic: 't', partition: 0, committedOffset: 12, highWatermark: 10, memberId: 'm-1' },
      { topic: 't', partition: 1, committedOffset: 0, highWatermark: 4, memberId: null },
    ]);
    expect(partitions).toEqual([
      { topic: 't', partition: 0, committedOffset: 12, highWatermark: 10, memberId: 'm-1', lag: 0 },
      { topic: 't', partition: 1, committedOffset: 0, highWatermark: 4, memberId: null, lag: 4 },
    ]);
    expect(totalLag).toBe(4);
  });

  it('has no lag for no partitions', () => {
    expect(computeGroupLag([])).toEqual({ partitions: [], totalLag: 0 });
  });
});

describe('Admin group offsets', () => {
  it('alterGroupOffsets commits from outside the membership, generation -1 and no member id', async () => {
    const { fake, admin } = setup();
    await admin.alterGroupOffsets('g', [
      { topic: 't', partition: 0, offset: 4 },
      { topic: 't', partition: 1, offset: 0, metadata: 'reset' },
    ]);
    const sent = fake.groupRequests.find((r) => r.api === 'OffsetCommit')!.request as clientApi.OffsetCommitRequest;
    expect(sent).toMatchObject({ groupId: 'g', generationId: -1, memberId: '', groupInstanceId: '' });
    expect(sent.topics[0]!.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.committedMetadata])).toEqual([
      [0, 4, ''],
      [1, 0, 'reset'],
    ]);
    expect(await admin.listGroupOffsets('g')).toEqual([
      { topic: 't', partition: 0, offset: 4, metadata: '', leaderEpoch: -1 },
      { topic: 't', partition: 1, offset: 0, metadata: '', leaderEpoch: -1 },
    ]);
  });

  it('alterGroupOffsets refuses negative offsets before sending anything', async () => {
    const { fake, admin } = setup();
    await expect(admin.alterGroupOffsets('g', [{ topic: 't', partition: 0, offset: -1 }])).rejects.toThrow(/must be a non-negative integer, got -1/);
    expect(fake.groupRequests.filter((r) => r.api === 'OffsetCommit')).toEqual([]);
  });

  it('alterGroupOffsets on a group with members is NON_EMPTY_GROUP, saying so', async () => {
    const { client, admin } = setup();
    const consumer = client.consumer({ groupId: 'g', sessionTimeoutMs: 1_000, heartbeatIntervalMs: 20, fetchMaxWaitMs: 10, retryBackoffMs: 1, autoCommit: false });
    consumer.subscribe(['t']);
    await until(() => consumer.assignment().length === 3);
    const refused = await admin.alterGroupOffsets('g', [{ topic: 't', partition: 0, offset: 0 }]).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(RivuletError);
    expect(refused).toMatchObject({ errorName: 'NON_EMPTY_GROUP', message: expect.stringMatching(/^group g has active members: its offsets can be changed only while it is empty/) as unknown });
    await consumer.close();
  });

  it('alterGroupOffsets asks the coordinator again when the first broker answered NOT_COORDINATOR', async () => {
    const { fake, admin } = setup();
    let moved = false;
    fake.groupHook = (api) => {
      if (api !== 'FindCoordinator' || moved) return undefined;
      moved = true;
      return { errorCode: 0, errorMessage: '', nodeId: 2, host: 'fake-2', grpcPort: 9093 };
    };
    await admin.alterGroupOffsets('g', [{ topic: 't', partition: 2, offset: 0 }]);
    expect(fake.groupRequests.filter((r) => r.api === 'OffsetCommit').map((r) => r.nodeId)).toEqual([2, 1]);
    expect(fake.groupCoordinator.group('g').offsets.get(tpKey('t', 2))).toBe(0);
  });

  it('describeGroupLag gives each partition its member, committed offset, high watermark and lag, and the total', async () => {
    const { fake, client, admin } = setup();
    const consumer = client.consumer({ groupId: 'g', sessionTimeoutMs: 1_000, heartbeatIntervalMs: 20, fetchMaxWaitMs: 10, retryBackoffMs: 1, autoCommit: false });
    consumer.subscribe(['t']);
    await until(() => consumer.assignment().length === 3);
    const group = fake.groupCoordinator.group('g');
    group.offsets.set(tpKey('t', 0), 4);
    group.offsets.set(tpKey('t', 1), 20);
    // An offset of a topic that is gone: its high watermark cannot be looked up.
    group.offsets.set(tpKey('gone', 0), 3);
    const memberId = [...group.members.keys()][0]!;

    const described = await admin.describeGroupLag('g');
    expect(described.group.state).toBe('Stable');
    expect(described.partitions).toEqual([
      { topic: 'gone', partition: 0, memberId: null, committedOffset: 3, highWatermark: null, lag: null },
      { topic: 't', partition: 0, memberId, committedOffset: 4, highWatermark: 10, lag: 6 },
      { topic: 't', partition: 1, memberId, committedOffset: 20, highWatermark: 20, lag: 0 },
      { topic: 't', partition: 2, memberId, committedOffset: null, highWatermark: 0, lag: null },
    ]);
    expect(described.totalLag).toBe(6);
    expect(described.highWatermarkFailures.map((f) => [f.topic, f.partition, f.error.errorName])).toEqual([['gone', 0, 'UNKNOWN_TOPIC_OR_PARTITION']]);
    await consumer.close();
  });

  it('describeGroupLag of a group without members shows its committed offsets with no owner', async () => {
    const { admin } = setup();
    await admin.alterGroupOffsets('g', [{ topic: 't', partition: 1, offset: 5 }]);
    const described = await admin.describeGroupLag('g');
    expect(described.group).toMatchObject({ state: 'Empty', members: [] });
    expect(described.partitions).toEqual([{ topic: 't', partition: 1, memberId: null, committedOffset: 5, highWatermark: 20, lag: 15 }]);
    expect(described.totalLag).toBe(15);
  });

  it('describeGroupLag of a group the coordinator does not know is GROUP_ID_NOT_FOUND', async () => {
    const { admin } = setup();
    await expect(admin.describeGroupLag('nobody')).rejects.toMatchObject({ errorName: 'GROUP_ID_NOT_FOUND', message: 'group nobody does not exist' });
  });
});

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
