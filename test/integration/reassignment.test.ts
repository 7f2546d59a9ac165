import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcBrokerTransport, RivuletAggregateError, RivuletClient } from '@rivulet/client';
import { ErrorCode, RivuletError } from '@rivulet/common';
import { LocalCluster, waitFor } from '@rivulet/testkit';

// Three controllers and four brokers as real `rivulet start` processes. A reassignment that
// only reorders or removes replicas completes at once; one that adds replicas completes once
// they have copied the partition from its leader and joined the ISR.

/** A broker applies committed metadata within a heartbeat or two; slack for a loaded machine. */
const APPLY_DEADLINE_MS = 10_000;

describe('partition reassignment and broker drain on 3 controllers and 4 brokers', () => {
  let baseDir = '';
  let cluster: LocalCluster;
  let client: RivuletClient;
  const transports = new Map<number, GrpcBrokerTransport>();

  beforeAll(async () => {
    baseDir = await mkdtemp(join(tmpdir(), 'rivulet-reassign-'));
    cluster = await LocalCluster.start({ baseDir, controllers: 3, brokers: 4 });
    client = new RivuletClient({ bootstrap: cluster.bootstrap(), requestTimeoutMs: 10_000 });
  }, 60_000);

  afterAll(async () => {
    for (const t of transports.values()) t.close();
    await client?.close();
    await cluster?.stop();
    if (baseDir !== '') await rm(baseDir, { recursive: true, force: true });
  });

  function transport(brokerId: number): GrpcBrokerTransport {
    let t = transports.get(brokerId);
    if (t === undefined) {
      t = new GrpcBrokerTransport(cluster.node(brokerId).grpcAddress, 'reassignment-test');
      transports.set(brokerId, t);
    }
    return t;
  }

  /** Whether `brokerId` holds a local replica of topic-partition, asked of that broker itself. */
  async function hostsReplica(brokerId: number, topic: string, partition: number): Promise<boolean> {
    const described = await transport(brokerId).describeTopics({ names: [topic] }, 5_000);
    const p = described.topics[0]!.partitions.find((x) => x.partition === partition);
    // A broker reports -1 for the log end offset of a partition it does not host.
    return p !== undefined && p.logEndOffset >= 0;
  }

  /**
   * The topic's partitions once every broker reports the same (an admin call returns when the
   * broker that answered applied its change; the others follow the metadata log a moment later).
   */
  async function partitions(topic: string, brokers: readonly number[] = [1, 2, 3, 4]) {
    return waitFor(`every broker agreeing on ${topic}`, async () => {
      const views = await Promise.all(brokers.map((id) => transport(id).getMetadata({ topics: [topic], allowAutoTopicCreation: false }, 5_000)));
      const topics = views.map((v) => v.topics[0]);
      if (topics.some((t) => t === undefined || t.errorCode !== 0)) return undefined;
      const shown = topics.map((t) => JSON.stringify(t!.partitions));
      return shown.every((x) => x === shown[0]) ? [...topics[0]!.partitions].sort((a, b) => a.partition - b.partition) : undefined;
    }, APPLY_DEADLINE_MS);
  }

  async function rejection(promise: Promise<unknown>): Promise<RivuletError> {
    const error = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RivuletError);
    return error as RivuletError;
  }

  it('completes a removal at once, an addition once the new replica is in sync; one to a broker that is down stays until cancelled', async () => {
    const admin = client.admin();
    await admin.createTopics([{ name: 'moves', partitions: 1, replicationFactor: 2 }]);
    const [before] = await partitions('moves');
    const [first, second] = before!.replicas as [number, number];
    expect(before!.leaderId).toBe(first);
    const producer = client.producer({ lingerMs: 0 });
    expect((await producer.send({ topic: 'moves', partition: 0, value: Buffer.from('before') })).offset).toBe(0);
    await producer.close();
    await waitFor(`broker ${first} hosting moves-0`, async () => ((await hostsReplica(first, 'moves', 0)) ? true : undefined), APPLY_DEADLINE_MS);

    // Removing the leader: the target [second] is in sync, so it completes in the same step.
    await admin.alterPartitionReassignments([{ topic: 'moves', partition: 0, replicas: [second] }]);
    const [removed] = await partitions('moves');
    expect(removed).toMatchObject({ replicas: [second], isr: [second], leaderId: second });
    expect(removed!.leaderEpoch).toBe(before!.leaderEpoch + 1);
    expect(await admin.listPartitionReassignments(['moves'])).toEqual([]);
    await waitFor(`broker ${first} deleting its moves-0 replica`, async () => ((await hostsReplica(first, 'moves', 0)) ? undefined : true), APPLY_DEADLINE_MS);

    // Adding a replica: it opens as a follower, copies the log from the leader, joins the ISR,
    // and the reassignment completes.
    const third = [1, 2, 3, 4].find((id) => id !== first && id !== second)!;
    await admin.alterPartitionReassignments([{ topic: 'moves', partition: 0, replicas: [second, third] }]);
    await waitFor(
      'the addition completing',
      async () => {
        const [p] = await partitions('moves');
        return p!.isr.length === 2 && (await admin.listPartitionReassignments(['moves'])).length === 0 ? p : undefined;
      },
      APPLY_DEADLINE_MS,
    );
    expect((await partitions('moves'))[0]).toMatchObject({ replicas: [second, third], leaderId: second });
    expect([...(await partitions('moves'))[0]!.isr].sort()).toEqual([second, third].sort());
    const copied = await transport(third).describeTopics({ names: ['moves'] }, 5_000);
    expect(copied.topics[0]!.partitions[0]!.logEndOffset).toBe(1);

    // An addition of a broker that is down stays in progress, listed as not yet in sync, until
    // cancelled: then the replicas from before it are back.
    const fourth = [1, 2, 3, 4].find((id) => id !== second && id !== third)!;
    const live = [1, 2, 3, 4].filter((id) => id !== fourth);
    await cluster.node(fourth).kill();
    try {
      await admin.alterPartitionReassignments([{ topic: 'moves', partition: 0, replicas: [second, third, fourth] }]);
      const ongoing = await admin.listPartitionReassignments(['moves']);
      expect(ongoing).toHaveLength(1);
      expect(ongoing[0]).toMatchObject({ replicas: [second, third, fourth], addingReplicas: [fourth], removingReplicas: [], leaderId: second, addingNotInIsr: [fourth] });
      await admin.alterPartitionReassignments([{ topic: 'moves', partition: 0, replicas: null }]);
      expect((await partitions('moves', live))[0]).toMatchObject({ replicas: [second, third], leaderId: second });
      expect(await admin.listPartitionReassignments()).toEqual([]);
    } finally {
      await cluster.node(fourth).start();
    }
    // Back, the broker deletes the replica it was being given before the cancel.
    await waitFor(`broker ${fourth} without a moves-0 replica`, async () => ((await hostsReplica(fourth, 'moves', 0)) ? undefined : true), APPLY_DEADLINE_MS);
  }, 60_000);

  it('refuses bad reassignments with specific errors and changes nothing', async () => {
    const admin = client.admin();
    await admin.createTopics([{ name: 'steady', partitions: 2, replicationFactor: 2 }]);
    const before = await partitions('steady');
    const cases: [{ topic: string; partition: number; replicas: number[] | null }, number, RegExp][] = [
      [{ topic: 'no-such-topic', partition: 0, replicas: [1] }, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, /Topic 'no-such-topic' does not exist/],
      [{ topic: 'steady', partition: 9, replicas: [1] }, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, /has no partition 9/],
      [{ topic: 'steady', partition: 0, replicas: [1, 1] }, ErrorCode.INVALID_REPLICA_ASSIGNMENT, /name broker 1 more than once/],
      [{ topic: 'steady', partition: 0, replicas: [1, 77] }, ErrorCode.INVALID_REPLICA_ASSIGNMENT, /broker 77, which is not registered/],
      [{ topic: 'steady', partition: 0, replicas: null }, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, /No reassignment of steady-0 is in progress/],
    ];
    for (const [entry, code, message] of cases) {
      const error = await rejection(admin.alterPartitionReassignments([entry]));
      expect(error).toBeInstanceOf(RivuletAggregateError);
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
    }
    // Several at once: each failure is reported, with its own code.
    const all = await rejection(admin.alterPartitionReassignments(cases.map(([entry]) => entry)));
    expect((all as RivuletAggregateError).failures.map((f) => f.error.code)).toEqual(cases.map(([, code]) => code));
    const unknownTopic = await rejection(admin.listPartitionReassignments(['no-such-topic']));
    expect(unknownTopic.code).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const unknownBroker = await rejection(admin.drainBroker(77));
    expect([unknownBroker.code, unknownBroker.message]).toEqual([ErrorCode.BROKER_ID_NOT_REGISTERED, 'Broker 77 is not registered']);
    expect(await partitions('steady')).toEqual(before);
    expect(await admin.listPartitionReassignments()).toEqual([]);
  }, 30_000);

  it('drains a broker: its leaderships move at once, its replicas once their new homes are in sync', async () => {
    const admin = client.admin();
    await admin.createTopics([{ name: 'drained', partitions: 8, replicationFactor: 2 }]);
    const before = await partitions('drained');
    const drainedId = 4;
    const held = before.filter((p) => p.replicas.includes(drainedId)).map((p) => p.partition);
    expect(before.some((p) => p.leaderId === drainedId)).toBe(true);

    const started = await admin.drainBroker(drainedId);
    // Earlier tests' partitions on broker 4 are drained too; every partition of `drained` has a full ISR.
    expect(started.filter((s) => s.topic === 'drained').map((s) => s.partition)).toEqual(held);
    for (const s of started) {
      expect(s.targetReplicas).not.toContain(drainedId);
      if (s.topic === 'drained') expect(s.leaderId).not.toBe(drainedId);
    }
    const after = await partitions('drained');
    expect(after.filter((p) => p.leaderId === drainedId)).toEqual([]);
    // The new replicas copy the partitions and join the ISR; each reassignment then completes
    // and the drained broker deletes its replicas.
    await waitFor('the drain completing', async () => ((await admin.listPartitionReassignments()).length === 0 ? true : undefined), APPLY_DEADLINE_MS);
    const drained = await partitions('drained');
    for (const p of drained) {
      expect(p.replicas).not.toContain(drainedId);
      expect(p.replicas).toHaveLength(2);
      expect([...p.isr].sort()).toEqual([...p.replicas].sort());
    }
    for (const partition of held) {
      await waitFor(`broker ${drainedId} deleting drained-${partition}`, async () => ((await hostsReplica(drainedId, 'drained', partition)) ? undefined : true), APPLY_DEADLINE_MS);
    }

    // With every broker holding a replica of a partition, there is nowhere to drain to.
    await admin.createTopics([{ name: 'everywhere', partitions: 1, replicationFactor: 4 }]);
    const full = await partitions('everywhere');
    const inProgress = await admin.listPartitionReassignments();
    const refused = await rejection(admin.drainBroker(1));
    expect(refused.code).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
    expect(refused.message).toMatch(/Cannot drain broker 1: no unfenced broker outside the replicas \[\d,\d,\d,\d\] of everywhere-0/);
    expect(await partitions('everywhere')).toEqual(full);
    // The refused drain moved no replica. (Leaders may move meanwhile: the controller's leader
    // rebalance hands each drained partition back to its preferred replica, the first listed.)
    const placement = (ps: Awaited<ReturnType<typeof partitions>>) => ps.map((p) => ({ partition: p.partition, replicas: p.replicas, isr: [...p.isr].sort() }));
    expect(placement(await partitions('drained'))).toEqual(placement(drained));
    expect(await admin.listPartitionReassignments()).toEqual(inProgress);
  }, 60_000);
});
