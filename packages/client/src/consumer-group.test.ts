import { RivuletError } from '@rivulet/common';
import type { clientApi } from '@rivulet/proto';
import { encodeRecordBatchSync } from '@rivulet/records';
import { afterEach, describe, expect, it } from 'vitest';
import { RivuletClient } from './client.js';
import type { Consumer, ConsumerOptions, RebalanceListener } from './consumer.js';
import { FakeCluster, type GroupApi } from './fake-broker.js';
import { decodeSubscription } from './group/consumer-protocol.js';
import type { ConsumerRecord, TopicPartitionRef } from './types.js';

const clients: RivuletClient[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
});

function batch(values: string[]): Buffer {
  return encodeRecordBatchSync({ records: values.map((v) => ({ key: null, value: Buffer.from(v) })) });
}

const name = (tp: TopicPartitionRef): string => `${tp.topic}-${tp.partition}`;
const names = (tps: readonly TopicPartitionRef[]): string[] => tps.map(name).sort();

async function until(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Records what a consumer's rebalance listener hears, in order. */
class ListenerLog implements RebalanceListener {
  readonly events: string[] = [];
  readonly owned = new Set<string>();

  onPartitionsAssigned(partitions: TopicPartitionRef[]): void {
    this.events.push(`assigned ${names(partitions).join(',')}`);
    for (const tp of partitions) this.owned.add(name(tp));
  }

  onPartitionsRevoked(partitions: TopicPartitionRef[]): void {
    this.events.push(`revoked ${names(partitions).join(',')}`);
    for (const tp of partitions) this.owned.delete(name(tp));
  }

  onPartitionsLost(partitions: TopicPartitionRef[]): void {
    this.events.push(`lost ${names(partitions).join(',')}`);
    for (const tp of partitions) this.owned.delete(name(tp));
  }
}

function setup(partitions = 6, brokers = 1) {
  const fake = new FakeCluster(brokers);
  fake.createTopic('t', partitions);
  const client = new RivuletClient({ bootstrap: fake.addressOf(1), transportFactory: fake.transportFactory(), retryBackoffMs: 1, retryBackoffMaxMs: 5, metadataMaxAgeMs: 50 });
  clients.push(client);
  const consumer = (options: ConsumerOptions = {}): Consumer =>
    client.consumer({
      groupId: 'g',
      fetchMaxWaitMs: 10,
      sessionTimeoutMs: 1_000,
      heartbeatIntervalMs: 20,
      rebalanceTimeoutMs: 1_000,
      retryBackoffMs: 1,
      retryBackoffMaxMs: 5,
      autoOffsetReset: 'earliest',
      autoCommitIntervalMs: 50,
      ...options,
    });
  const requests = (api: GroupApi, nodeId?: number): unknown[] =>
    fake.groupRequests.filter((r) => r.api === api && (nodeId === undefined || r.nodeId === nodeId)).map((r) => r.request);
  return { fake, consumer, requests };
}

/** Reads records in the background until `stop`; what it read so far is in `records`. */
function reader(consumer: Consumer): { records: ConsumerRecord[]; done: Promise<unknown> } {
  const records: ConsumerRecord[] = [];
  const done = (async () => {
    for await (const record of consumer) records.push(record);
  })().catch((err: unknown) => err);
  return { records, done };
}

describe('Consumer in a group', () => {
  it('joins with the member id the coordinator requires, and shares the partitions with another member', async () => {
    const { consumer, requests } = setup(6);
    const [logA, logB] = [new ListenerLog(), new ListenerLog()];
    const a = consumer();
    a.subscribe(['t'], logA);
    await until('a owns every partition', () => logA.owned.size === 6);
    const joins = requests('JoinGroup') as clientApi.JoinGroupRequest[];
    expect(joins[0]!.memberId).toBe('');
    expect(joins[1]!.memberId).toBe(a.groupMetadata()!.memberId);
    expect(a.groupMetadata()!.generationId).toBe(1);

    const b = consumer();
    b.subscribe(['t'], logB);
    await until('both own three', () => logA.owned.size === 3 && logB.owned.size === 3);
    expect(new Set([...logA.owned, ...logB.owned]).size).toBe(6);
    expect(names(a.assignment())).toEqual([...logA.owned].sort());
  });

  it('cooperative (default): a member keeps consuming the partitions that stay while the others move in two rebalances', async () => {
    const { fake, consumer } = setup(4);
    const [logA, logB] = [new ListenerLog(), new ListenerLog()];
    const a = consumer();
    a.subscribe(['t'], logA);
    const readA = reader(a);
    await until('a owns all four', () => logA.owned.size === 4);
    const b = consumer();
    b.subscribe(['t'], logB);
    await until('b owns two', () => logB.owned.size === 2);
    // a hears of both rebalances: the first takes two partitions away, the second gives it nothing new.
    expect(logA.events).toEqual(['assigned t-0,t-1,t-2,t-3', `revoked ${[...logB.owned].sort().join(',')}`, 'assigned ', 'assigned ']);
    // b gets its partitions only in the second rebalance, after a let go of them.
    expect(logB.events).toEqual(['assigned ', `assigned ${[...logB.owned].sort().join(',')}`]);
    expect(a.groupMetadata()!.generationId).toBe(3);
    for (const kept of logA.owned) {
      const partition = Number(kept.split('-')[1]);
      fake.append('t', partition, batch([`still-${partition}`]));
    }
    await until('a reads what was appended to its partitions', () => readA.records.filter((r) => r.value!.toString().startsWith('still-')).length === 2);
  });

  it('cooperative: what was consumed of a partition that moves is committed before the rebalance, so its new member goes on from there', async () => {
    const { fake, consumer } = setup(4);
    for (let partition = 0; partition < 4; partition++) fake.append('t', partition, batch([`old-${partition}`]));
    const [logA, logB] = [new ListenerLog(), new ListenerLog()];
    const a = consumer({ autoCommitIntervalMs: 60_000 });
    a.subscribe(['t'], logA);
    const readA = reader(a);
    await until('a read everything', () => readA.records.length === 4);
    const b = consumer();
    b.subscribe(['t'], logB);
    const readB = reader(b);
    await until('b owns two', () => logB.owned.size === 2);
    for (const moved of logB.owned) expect(fake.groupCoordinator.group('g').offsets.get(`t\u0000${moved.split('-')[1]}`)).toBe(1);
    for (const partition of [0, 1, 2, 3]) fake.append('t', partition, batch([`new-${partition}`]));
    await until('b read its new records', () => readB.records.length === 2);
    expect(readB.records.map((r) => r.value!.toString()).every((v) => v.startsWith('new-'))).toBe(true);
  });

  it('learns of a rebalance from its waiting heartbeat at once, not a heartbeat interval later', async () => {
    const { consumer, requests } = setup(2);
    const [logA, logB] = [new ListenerLog(), new ListenerLog()];
    const slowBeats = { heartbeatIntervalMs: 2_000, sessionTimeoutMs: 10_000 };
    consumer(slowBeats).subscribe(['t'], logA);
    await until('a owns both', () => logA.owned.size === 2);
    await until('a heartbeat waiting', () => requests('Heartbeat').length > 0);
    const startedMs = Date.now();
    consumer(slowBeats).subscribe(['t'], logB);
    await until('one each', () => logA.owned.size === 1 && logB.owned.size === 1);
    expect(Date.now() - startedMs).toBeLessThan(1_000);
    expect((requests('Heartbeat') as clientApi.HeartbeatRequest[]).every((r) => r.maxWaitMs === 2_000)).toBe(true);
  });

  it('eager (range): every member gives everything up before a rebalance', async () => {
    const { consumer } = setup(4);
    const [logA, logB] = [new ListenerLog(), new ListenerLog()];
    const a = consumer({ partitionAssigners: ['range'] });
    a.subscribe(['t'], logA);
    await until('a owns all four', () => logA.owned.size === 4);
    consumer({ partitionAssigners: ['range'] }).subscribe(['t'], logB);
    await until('b owns two', () => logB.owned.size === 2);
    expect(logA.events).toEqual(['assigned t-0,t-1,t-2,t-3', 'revoked t-0,t-1,t-2,t-3', 'assigned t-0,t-1']);
    expect(logB.events).toEqual(['assigned t-2,t-3']);
  });

  it('without autoCommit, a member commits in onPartitionsRevoked what it processed of the partitions it gives up, as with Kafka\'s consumer', async () => {
    const { fake, consumer } = setup(2);
    fake.append('t', 0, batch(['a0', 'a1']));
    fake.append('t', 1, batch(['b0']));
    const processed = new Map<number, number>();
    const commits: string[] = [];
    const manual = consumer({ partitionAssigners: ['range'], autoCommit: false });
    manual.subscribe(['t'], {
      onPartitionsRevoked: async (partitions) => {
        const offsets = partitions.flatMap((tp) => (processed.has(tp.partition) ? [{ ...tp, offset: processed.get(tp.partition)! }] : []));
        try {
          await manual.commitOffsets(offsets);
          commits.push(`committed ${offsets.map((o) => `${o.partition}@${o.offset}`).join(',')}`);
        } catch (err) {
          commits.push(`failed: ${String(err)}`);
        }
      },
    });
    const running = manual.run({ eachRecord: (record) => void processed.set(record.partition, record.offset + 1) });
    await until('both partitions processed', () => processed.get(0) === 2 && processed.get(1) === 1);
    // A second member joins: under the eager protocol the first gives both partitions up first.
    consumer({ partitionAssigners: ['range'] }).subscribe(['t']);
    await until('the revocation', () => commits.length > 0);
    expect(commits).toEqual(['committed 0@2,1@1']);
    expect(fake.groupCoordinator.group('g').offsets.get('t\u00000')).toBe(2);
    expect(fake.groupCoordinator.group('g').offsets.get('t\u00001')).toBe(1);
    await manual.close();
    await running;
  });

  it('a member that closes commits, leaves, and its partitions move; a new member continues from the committed offsets', async () => {
    const { fake, consumer, requests } = setup(2);
    fake.append('t', 0, batch(['a0', 'a1', 'a2']));
    fake.append('t', 1, batch(['b0', 'b1']));
    const first = consumer();
    first.subscribe(['t']);
    const seen: string[] = [];
    for await (const record of first) {
      seen.push(record.value!.toString());
      if (seen.length === 5) break;
    }
    await first.close();
    expect(requests('LeaveGroup')).toHaveLength(1);
    expect(fake.groupCoordinator.group('g').offsets.get('t\u00000')).toBe(3);
    expect(fake.groupCoordinator.group('g').offsets.get('t\u00001')).toBe(2);

    fake.append('t', 0, batch(['a3']));
    const second = consumer();
    second.subscribe(['t']);
    const next: string[] = [];
    for await (const record of second) {
      next.push(record.value!.toString());
      break;
    }
    expect(next).toEqual(['a3']);
  });

  it('commits automatically on the interval, and on demand with commit()', async () => {
    const { fake, consumer } = setup(1);
    fake.append('t', 0, batch(['x', 'y']));
    const auto = consumer();
    auto.subscribe(['t']);
    const got: string[] = [];
    for await (const record of auto) {
      got.push(record.value!.toString());
      if (got.length === 2) break;
    }
    await until('the automatic commit', () => fake.groupCoordinator.group('g').offsets.get('t\u00000') === 2);
    await auto.close();

    const manual = consumer({ groupId: 'manual', autoCommit: false });
    manual.subscribe(['t']);
    for await (const record of manual) {
      expect(record.value!.toString()).toBe('x');
      break;
    }
    await manual.commit();
    expect(await manual.committed([{ topic: 't', partition: 0 }])).toMatchObject([{ topic: 't', partition: 0, offset: 1 }]);
    await manual.commitOffsets([{ topic: 't', partition: 0, offset: 2 }]);
    expect(fake.groupCoordinator.group('manual').offsets.get('t\u00000')).toBe(2);
  });

  it('keeps heartbeating while an async handler is slow, and commits only what the handler finished', async () => {
    const { fake, consumer, requests } = setup(1);
    fake.append('t', 0, batch(['slow', 'next']));
    const member = consumer({ sessionTimeoutMs: 150 });
    member.subscribe(['t']);
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    const finished: string[] = [];
    const running = member.run({
      eachRecord: async (record) => {
        started();
        await new Promise((resolve) => setTimeout(resolve, 400));
        finished.push(record.value!.toString());
      },
    });
    await handlerStarted;
    const heartbeatsBefore = requests('Heartbeat').length;
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(requests('Heartbeat').length).toBeGreaterThan(heartbeatsBefore + 3);
    expect(fake.groupCoordinator.group('g').generationId).toBe(1);
    // The record in the handler is not committed while it runs.
    await member.commit();
    expect(fake.groupCoordinator.group('g').offsets.get('t\u00000')).toBe(0);
    await until('the handler finished the first record', () => finished.length === 1);
    await member.commit();
    expect(fake.groupCoordinator.group('g').offsets.get('t\u00000')).toBeGreaterThanOrEqual(1);
    await member.close();
    await running;
  });

  it('after ILLEGAL_GENERATION its partitions are lost (no commit) and it rejoins under the same member id', async () => {
    const { fake, consumer, requests } = setup(2);
    const log = new ListenerLog();
    const member = consumer();
    member.subscribe(['t'], log);
    await until('assigned', () => log.owned.size === 2);
    const memberId = member.groupMetadata()!.memberId;
    const commitsBefore = requests('OffsetCommit').length;
    let injected = false;
    fake.groupHook = (api) => {
      if (api !== 'Heartbeat' || injected) return undefined;
      injected = true;
      return { errorCode: 22, errorMessage: 'stale' };
    };
    await until('reassigned', () => log.events.length === 3 && log.owned.size === 2);
    expect(log.events).toEqual(['assigned t-0,t-1', 'lost t-0,t-1', 'assigned t-0,t-1']);
    expect(member.groupMetadata()!.memberId).toBe(memberId);
    const lostCommits = (requests('OffsetCommit') as clientApi.OffsetCommitRequest[]).slice(commitsBefore).filter((r) => r.generationId === 1);
    expect(lostCommits).toEqual([]);
  });

  it('after UNKNOWN_MEMBER_ID it rejoins as a new member', async () => {
    const { fake, consumer } = setup(2);
    const log = new ListenerLog();
    const member = consumer({ rebalanceTimeoutMs: 100 });
    member.subscribe(['t'], log);
    await until('assigned', () => log.owned.size === 2);
    const memberId = member.groupMetadata()!.memberId;
    let injected = false;
    fake.groupHook = (api) => {
      if (api !== 'Heartbeat' || injected) return undefined;
      injected = true;
      return { errorCode: 25, errorMessage: 'who?' };
    };
    await until('rejoined', () => log.events.length === 3 && log.owned.size === 2);
    expect(log.events[1]).toBe('lost t-0,t-1');
    expect(member.groupMetadata()!.memberId).not.toBe(memberId);
  });

  it('a static member fenced by a newer instance fails its reader with FENCED_INSTANCE_ID', async () => {
    const { consumer } = setup(2);
    const log = new ListenerLog();
    const old = consumer({ groupInstanceId: 'worker-1' });
    old.subscribe(['t'], log);
    const reading = reader(old);
    await until('assigned', () => log.owned.size === 2);
    consumer({ groupInstanceId: 'worker-1' }).subscribe(['t']);
    const error = await reading.done;
    expect(error).toBeInstanceOf(RivuletError);
    expect(error).toMatchObject({ errorName: 'FENCED_INSTANCE_ID', code: 82 });
  });

  it('a static member does not leave the group on close', async () => {
    const { consumer, requests } = setup(1);
    const log = new ListenerLog();
    const member = consumer({ groupInstanceId: 'worker-1' });
    member.subscribe(['t'], log);
    await until('assigned', () => log.owned.size === 1);
    await member.close();
    expect(requests('LeaveGroup')).toEqual([]);
    expect(log.events).toEqual(['assigned t-0', 'revoked t-0']);
  });

  it('finds the coordinator again after NOT_COORDINATOR, without a rebalance', async () => {
    const { fake, consumer, requests } = setup(2, 2);
    const log = new ListenerLog();
    const member = consumer();
    member.subscribe(['t'], log);
    await until('assigned', () => log.owned.size === 2);
    const lookups = requests('FindCoordinator').length;
    fake.coordinatorId = 2;
    await until('a new lookup', () => requests('FindCoordinator').length > lookups);
    await until('heartbeats to the new coordinator', () => requests('Heartbeat', 2).length > 2);
    expect(log.events).toEqual(['assigned t-0,t-1']);
    expect(member.groupMetadata()!.generationId).toBe(1);
  });

  it('subscribes to a pattern, and picks up new matching topics', async () => {
    const { fake, consumer } = setup(1);
    fake.createTopic('orders-eu', 1);
    fake.createTopic('other', 1);
    const log = new ListenerLog();
    const member = consumer();
    member.subscribe(/^orders-/, log);
    await until('orders-eu assigned', () => log.owned.has('orders-eu-0'));
    expect([...log.owned]).toEqual(['orders-eu-0']);
    const joins = fake.groupRequests.filter((r) => r.api === 'JoinGroup').map((r) => r.request as clientApi.JoinGroupRequest);
    expect(decodeSubscription(joins.at(-1)!.protocols[0]!.metadata).topics).toEqual(['orders-eu']);
    fake.createTopic('orders-us', 2);
    await until('orders-us assigned', () => log.owned.size === 3);
  });

  it('the leader notices a subscribed topic that appears, and the group rebalances to include it', async () => {
    const { fake, consumer } = setup(1);
    const log = new ListenerLog();
    consumer().subscribe(['t', 'later'], log);
    await until('t assigned', () => log.owned.has('t-0'));
    fake.createTopic('later', 2);
    await until('later assigned', () => log.owned.size === 3);
  });

  it('with assign, starts from the group’s committed offset and commits outside group management', async () => {
    const { fake, consumer, requests } = setup(1);
    fake.append('t', 0, batch(['a', 'b', 'c']));
    fake.groupCoordinator.group('g').offsets.set('t\u00000', 1);
    const member = consumer();
    member.assign([{ topic: 't', partition: 0 }]);
    const values: string[] = [];
    for await (const record of member) {
      values.push(record.value!.toString());
      if (values.length === 2) break;
    }
    expect(values).toEqual(['b', 'c']);
    await member.commit();
    const commit = (requests('OffsetCommit') as clientApi.OffsetCommitRequest[]).at(-1)!;
    expect([commit.generationId, commit.memberId, commit.topics[0]!.partitions[0]!.committedOffset]).toEqual([-1, '', 3]);
  });

  it('keeps assign and subscribe apart, and needs a groupId to subscribe', () => {
    const { consumer } = setup(1);
    const member = consumer();
    member.subscribe(['t']);
    expect(() => member.assign([{ topic: 't', partition: 0 }])).toThrow(/the group assigns/);
    const standalone = consumer({ groupId: undefined });
    expect(() => standalone.subscribe(['t'])).toThrow(/needs a groupId/);
    expect(() => consumer({ partitionAssigners: ['sticky' as 'range'] })).toThrow(/unknown partition assignor/);
  });

  it('hands an error thrown by the rebalance listener to the reader', async () => {
    const { consumer } = setup(1);
    const member = consumer();
    member.subscribe(['t'], {
      onPartitionsAssigned: () => {
        throw new Error('listener broke');
      },
    });
    await expect(reader(member).done).resolves.toMatchObject({ message: 'listener broke' });
  });
});
