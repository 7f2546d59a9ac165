import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RivuletClient, type Consumer, type ConsumerOptions, type ConsumerRecord, type RebalanceListener, type TopicPartitionRef } from '@rivulet/client';
import { hasKcat, runKcat } from '@rivulet/kafka/testing/kcat';
import { NodeProcess, waitFor } from '@rivulet/testkit';

// Consumer groups over the gRPC client API against one real `rivulet start` process: the
// group coordinator on the broker, the membership protocol and the assignors in the client.
// Short group timings through the server's flags keep rebalances quick.

const SERVER_FLAGS = [
  '--kafka-port',
  '0',
  '--auto-create-topics',
  'false',
  '--group-initial-rebalance-delay-ms',
  '0',
  '--group-min-session-timeout-ms',
  '500',
  '--offsets-topic-partitions',
  '3',
  '--offsets-topic-replication-factor',
  '1',
];

const GROUP_TIMINGS: ConsumerOptions = {
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 200,
  rebalanceTimeoutMs: 10_000,
  autoCommitIntervalMs: 200,
  autoOffsetReset: 'earliest',
  fetchMaxWaitMs: 100,
};

let dataDir = '';
let node: NodeProcess;
let client: RivuletClient;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'rivulet-groups-'));
  node = new NodeProcess({ dataDir, args: SERVER_FLAGS });
  await node.start();
  client = new RivuletClient({ bootstrap: node.grpcAddress, requestTimeoutMs: 10_000, metadataMaxAgeMs: 1_000 });
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
});

const name = (tp: TopicPartitionRef): string => `${tp.topic}-${tp.partition}`;

/** A group member reading in the background, with what its rebalance listener heard. */
class Member implements RebalanceListener {
  readonly consumer: Consumer;
  readonly owned = new Set<string>();
  readonly revoked: string[] = [];
  /** How many rebalances this member took part in (each ends with onPartitionsAssigned). */
  rebalances = 0;
  readonly records: ConsumerRecord[] = [];
  private readonly running: Promise<void>;

  constructor(groupId: string, topic: string, options: ConsumerOptions = {}) {
    this.consumer = client.consumer({ groupId, ...GROUP_TIMINGS, ...options });
    this.consumer.subscribe([topic], this);
    this.running = this.consumer.run({ eachRecord: (record) => void this.records.push(record) });
  }

  onPartitionsAssigned(partitions: TopicPartitionRef[]): void {
    this.rebalances++;
    for (const tp of partitions) this.owned.add(name(tp));
  }

  onPartitionsRevoked(partitions: TopicPartitionRef[]): void {
    for (const tp of partitions) {
      this.owned.delete(name(tp));
      this.revoked.push(name(tp));
    }
  }

  onPartitionsLost(partitions: TopicPartitionRef[]): void {
    this.onPartitionsRevoked(partitions);
  }

  values(): string[] {
    return this.records.map((r) => r.value!.toString());
  }

  async close(): Promise<void> {
    await this.consumer.close();
    await this.running;
  }
}

async function produce(topic: string, partitions: number, prefix: string, perPartition: number): Promise<string[]> {
  const producer = client.producer({ lingerMs: 1 });
  const values: string[] = [];
  const sends: Promise<unknown>[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    for (let i = 0; i < perPartition; i++) {
      const value = `${prefix}-${partition}-${i}`;
      values.push(value);
      sends.push(producer.send({ topic, partition, value }));
    }
  }
  await Promise.all(sends);
  await producer.close();
  return values;
}

function disjointCover(members: readonly Member[], partitions: number, topic: string): boolean {
  const all = members.flatMap((m) => [...m.owned]);
  return all.length === partitions && new Set(all).size === partitions && all.every((p) => p.startsWith(`${topic}-`));
}

describe('consumer groups over the gRPC client API', () => {
  it('three members share 12 partitions four each; one leaves and its partitions move to the others, who keep theirs', async () => {
    await client.admin().createTopics([{ name: 'shared', partitions: 12 }]);
    const members = [new Member('sharing', 'shared'), new Member('sharing', 'shared'), new Member('sharing', 'shared')];
    await waitFor('four partitions each', () => (members.every((m) => m.owned.size === 4) && disjointCover(members, 12, 'shared') ? true : undefined), 30_000);
    const sent = await produce('shared', 12, 'first', 5);
    await waitFor('every record read once', () => (members.flatMap((m) => m.values()).length >= sent.length ? true : undefined), 20_000);
    expect(members.flatMap((m) => m.values()).sort()).toEqual([...sent].sort());

    const [leaving, ...staying] = members as [Member, Member, Member];
    const keptBefore = staying.map((m) => new Set(m.owned));
    await leaving.close();
    await waitFor('six partitions each', () => (staying.every((m) => m.owned.size === 6) && disjointCover(staying, 12, 'shared') ? true : undefined), 30_000);
    // Cooperative: the partitions a member had stay with it, without being revoked.
    staying.forEach((m, i) => {
      for (const partition of keptBefore[i]!) expect(m.owned.has(partition)).toBe(true);
      expect(m.revoked).toEqual([]);
    });
    const more = await produce('shared', 12, 'second', 3);
    await waitFor('the new records read by the two members', () => (staying.flatMap((m) => m.values()).filter((v) => v.startsWith('second-')).length >= more.length ? true : undefined), 20_000);
    expect(staying.flatMap((m) => m.values()).filter((v) => v.startsWith('second-')).sort()).toEqual([...more].sort());

    const [description] = await client.admin().describeGroups(['sharing']);
    expect(description).toMatchObject({ state: 'Stable', protocolType: 'consumer', assignor: 'cooperative-sticky' });
    expect(description!.members.map((m) => m.assignment.length).sort()).toEqual([6, 6]);
    await Promise.all(staying.map((m) => m.close()));
  });

  it('a member that restarts continues from the committed offsets', async () => {
    await client.admin().createTopics([{ name: 'resumed', partitions: 3 }]);
    const first = await produce('resumed', 3, 'before', 4);
    const reader = new Member('resuming', 'resumed');
    await waitFor('the first records read', () => (reader.records.length >= first.length ? true : undefined), 30_000);
    await reader.close();
    const committed = await client.admin().listGroupOffsets('resuming');
    expect(committed.map((c) => [c.partition, c.offset])).toEqual([
      [0, 4],
      [1, 4],
      [2, 4],
    ]);

    const second = await produce('resumed', 3, 'after', 2);
    const restarted = new Member('resuming', 'resumed');
    await waitFor('the new records read', () => (restarted.records.length >= second.length ? true : undefined), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(restarted.values().sort()).toEqual([...second].sort());
    await restarted.close();
  });

  it('a cooperative join: members keep consuming the partitions they keep while the newcomer gets its share', async () => {
    await client.admin().createTopics([{ name: 'joined', partitions: 6 }]);
    const early = [new Member('joining', 'joined'), new Member('joining', 'joined')];
    await waitFor('three partitions each', () => (early.every((m) => m.owned.size === 3) && disjointCover(early, 6, 'joined') ? true : undefined), 30_000);
    const keptBefore = early.map((m) => new Set(m.owned));

    // Records keep arriving on every partition while the third member joins.
    const producer = client.producer({ lingerMs: 1 });
    let producing = true;
    const sent: string[] = [];
    const feeding = (async () => {
      for (let i = 0; producing; i++) {
        await Promise.all(
          Array.from({ length: 6 }, (_, partition) => {
            const value = `live-${partition}-${i}`;
            sent.push(value);
            return producer.send({ topic: 'joined', partition, value });
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const late = new Member('joining', 'joined');
    const members = [...early, late];
    await waitFor('two partitions each', () => (members.every((m) => m.owned.size === 2) && disjointCover(members, 6, 'joined') ? true : undefined), 30_000);
    producing = false;
    await feeding;
    await producer.close();

    early.forEach((m, i) => {
      // Each gave the newcomer one partition and kept the rest, never revoked.
      expect(m.revoked).toHaveLength(1);
      for (const partition of m.revoked) expect(late.owned.has(partition)).toBe(true);
      for (const partition of m.owned) expect(keptBefore[i]!.has(partition)).toBe(true);
    });
    await waitFor('every record read', () => (new Set(members.flatMap((m) => m.values())).size >= sent.length ? true : undefined), 20_000);
    expect(new Set(members.flatMap((m) => m.values()))).toEqual(new Set(sent));
    await Promise.all(members.map((m) => m.close()));
  });

  it('a static member that comes back within its session timeout gets its partitions back, with no rebalance for the others', async () => {
    await client.admin().createTopics([{ name: 'static-t', partitions: 4 }]);
    const first = new Member('statics', 'static-t', { groupInstanceId: 'worker-1' });
    const other = new Member('statics', 'static-t', { groupInstanceId: 'worker-2' });
    await waitFor('two partitions each', () => (first.owned.size === 2 && other.owned.size === 2 && disjointCover([first, other], 4, 'static-t') ? true : undefined), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const [ownedBefore, rebalancesBefore] = [[...first.owned].sort(), other.rebalances];
    await first.close();
    const back = new Member('statics', 'static-t', { groupInstanceId: 'worker-1' });
    await waitFor('the returning member owns its two', () => (back.owned.size === 2 ? true : undefined), 30_000);
    expect([...back.owned].sort()).toEqual(ownedBefore);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(other.rebalances).toBe(rebalancesBefore);
    expect(other.revoked).toEqual([]);
    const [description] = await client.admin().describeGroups(['statics']);
    expect(description!.members.map((m) => m.groupInstanceId).sort()).toEqual(['worker-1', 'worker-2']);
    await Promise.all([back.close(), other.close()]);
  });

  it('an eager group (range) shares the topic too, and an empty group can be listed and deleted', async () => {
    await client.admin().createTopics([{ name: 'ranged', partitions: 4 }]);
    const members = [new Member('ranging', 'ranged', { partitionAssigners: ['range'] }), new Member('ranging', 'ranged', { partitionAssigners: ['range'] })];
    await waitFor('two partitions each', () => (members.every((m) => m.owned.size === 2) && disjointCover(members, 4, 'ranged') ? true : undefined), 30_000);
    const owners = members.map((m) => [...m.owned].sort());
    expect(owners.sort()).toEqual([
      ['ranged-0', 'ranged-1'],
      ['ranged-2', 'ranged-3'],
    ]);
    await Promise.all(members.map((m) => m.close()));
    const listed = await client.admin().listGroups();
    expect(listed.find((g) => g.groupId === 'ranging')).toMatchObject({ protocolType: 'consumer', state: 'Empty' });
    await client.admin().deleteGroups(['ranging']);
    expect((await client.admin().listGroups()).map((g) => g.groupId)).not.toContain('ranging');
  });

  it.skipIf(!hasKcat)('a Rivulet member and a Kafka client (kcat, librdkafka) share a range group through the same coordinator', async () => {
    await client.admin().createTopics([{ name: 'mixed-group', partitions: 4 }]);
    const sent = await produce('mixed-group', 4, 'mixed', 3);
    const rivulet = new Member('mixed', 'mixed-group', { partitionAssigners: ['range'] });
    await waitFor('the Rivulet member owns all four', () => (rivulet.owned.size === 4 ? true : undefined), 30_000);
    await waitFor('and has read them', () => (rivulet.records.length === sent.length ? true : undefined), 30_000);
    // kcat joins (eager range: both give everything up, then each gets two partitions), reads
    // four records from its two partitions, then exits and leaves the group.
    const kcatRun = runKcat(['-b', node.kafkaAddress!, '-G', 'mixed', 'mixed-group', '-X', 'partition.assignment.strategy=range', '-X', 'session.timeout.ms=6000', '-c', '4', '-q', '-f', '%p %s\\n'], '', 60_000);
    await waitFor('the group rebalanced to two each', () => (rivulet.owned.size === 2 ? true : undefined), 30_000);
    const rivuletPartitions = new Set([...rivulet.owned].map((p) => Number(p.split('-').at(-1))));
    const more = await produce('mixed-group', 4, 'later', 2);
    const readByKcat = (await kcatRun).trim().split('\n').map((line) => line.split(' ') as [string, string]);
    expect(readByKcat).toHaveLength(4);
    for (const [partition, value] of readByKcat) {
      expect(rivuletPartitions.has(Number(partition))).toBe(false);
      expect(value.startsWith('later-')).toBe(true);
    }
    await waitFor('the Rivulet member owns all four again', () => (rivulet.owned.size === 4 ? true : undefined), 30_000);
    const all = (): Set<string> => new Set([...readByKcat.map(([, value]) => value), ...rivulet.values()]);
    await waitFor('every record read by one of them', () => (all().size === sent.length + more.length ? true : undefined), 30_000);
    expect(all()).toEqual(new Set([...sent, ...more]));
    await rivulet.close();
  });
});
