import { ErrorCode, RivuletError, SeededRandom, asNodeId, systemClock, systemScheduler } from '@rivulet/common';
import type { Clock } from '@rivulet/common';
import { EMPTY_IMAGE, applyRecords, decodeRecordList, imageFromRecords, imageToRecords } from '@rivulet/metadata';
import type { MetadataImage } from '@rivulet/metadata';
import { afterEach, describe, expect, it } from 'vitest';
import { MetadataLog } from './metadata-log.js';
import { QuorumController } from './quorum-controller.js';
import { RaftDriver } from './raft-driver.js';
import { AsyncMemoryStore } from './test-support.js';

// The active-controller logic on a real single-voter RaftDriver (in-memory store, real
// scheduler), with a clock the test moves by hand so lease expiry is decided by the test,
// not by how fast the machine is.

class ManualClock implements Clock {
  ms = 1_000_000;
  nowMs(): number {
    return this.ms;
  }
  wallClockMs(): number {
    return this.ms;
  }
}

const SESSION_TIMEOUT_MS = 1000;

interface Harness {
  readonly driver: RaftDriver;
  readonly log: MetadataLog;
  readonly controller: QuorumController;
  readonly store: AsyncMemoryStore;
  readonly clock: ManualClock;
}

let running: Harness[] = [];

async function startController(store = new AsyncMemoryStore(), clock = new ManualClock(), snapshotEveryEntries = 0): Promise<Harness> {
  const log = new MetadataLog({ snapshotEveryEntries });
  const driver = new RaftDriver({
    id: asNodeId(1),
    voters: [asNodeId(1)],
    store,
    send: () => undefined,
    scheduler: systemScheduler,
    clock: systemClock,
    random: new SeededRandom(1),
    tickIntervalMs: 5,
    snapshot: { ...log.hooks, tailEntries: 1 },
  });
  driver.onApply((entry) => log.apply(entry));
  driver.start();
  driver.campaign();
  const controller = new QuorumController({
    driver,
    log,
    clusterId: 'c1',
    clock,
    scheduler: systemScheduler,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    leaseCheckIntervalMs: 5,
    autoLeaderRebalance: false,
  });
  controller.start();
  const harness = { driver, log, controller, store, clock };
  running.push(harness);
  await until(() => controller.isActive);
  return harness;
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

afterEach(async () => {
  for (const h of running) {
    h.controller.stop();
    await h.driver.stop();
  }
  running = [];
});

async function expectCode(promise: Promise<unknown>, code: number): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RivuletError);
  expect((error as RivuletError).code).toBe(code);
}

const endpoints = [{ name: 'grpc', host: '127.0.0.1', port: 9093 }];

/** Registers brokers 1..n and heartbeats each until unfenced. Returns their epochs. */
async function unfencedBrokers(h: Harness, n: number): Promise<Map<number, number>> {
  const epochs = new Map<number, number>();
  for (let id = 1; id <= n; id++) {
    const { brokerEpoch, caughtUpOffset } = await h.controller.registerBroker({ brokerId: id, clusterId: 'c1', incarnationId: `inc-${id}`, endpoints });
    epochs.set(id, brokerEpoch);
    const beat = await h.controller.brokerHeartbeat({ brokerId: id, brokerEpoch, currentMetadataOffset: caughtUpOffset, wantFence: false, wantShutDown: false });
    expect(beat.isFenced).toBe(false);
  }
  return epochs;
}

function heartbeatAll(h: Harness, epochs: Map<number, number>, except: number[] = []): Promise<unknown> {
  return Promise.all(
    [...epochs]
      .filter(([id]) => !except.includes(id))
      .map(([brokerId, brokerEpoch]) =>
        h.controller.brokerHeartbeat({ brokerId, brokerEpoch, currentMetadataOffset: h.log.offset, wantFence: false, wantShutDown: false }),
      ),
  );
}

describe('QuorumController', () => {
  it('registers brokers fenced and unfences them once they caught up with the metadata log', async () => {
    const h = await startController();
    const { brokerEpoch, caughtUpOffset } = await h.controller.registerBroker({ brokerId: 7, clusterId: 'c1', incarnationId: 'a', endpoints, rack: 'r1' });
    expect(h.log.image.brokers.get(7)).toMatchObject({ state: 'fenced', brokerEpoch, rack: 'r1' });
    const behind = await h.controller.brokerHeartbeat({ brokerId: 7, brokerEpoch, currentMetadataOffset: caughtUpOffset - 1, wantFence: false, wantShutDown: false });
    expect(behind.isFenced).toBe(true);
    const caughtUp = await h.controller.brokerHeartbeat({ brokerId: 7, brokerEpoch, currentMetadataOffset: caughtUpOffset, wantFence: false, wantShutDown: false });
    expect(caughtUp.isFenced).toBe(false);
    expect(h.log.image.brokers.get(7)!.state).toBe('unfenced');
  });

  it('refuses bad registrations and heartbeats with specific errors and changes nothing', async () => {
    const h = await startController();
    const epochs = await unfencedBrokers(h, 1);
    const before = h.log.image;
    await expectCode(h.controller.registerBroker({ brokerId: 2, clusterId: 'other', incarnationId: 'x', endpoints }), ErrorCode.INCONSISTENT_CLUSTER_ID);
    // Another process claiming a live broker's id.
    await expectCode(h.controller.registerBroker({ brokerId: 1, clusterId: 'c1', incarnationId: 'impostor', endpoints }), ErrorCode.DUPLICATE_BROKER_REGISTRATION);
    await expectCode(
      h.controller.brokerHeartbeat({ brokerId: 1, brokerEpoch: epochs.get(1)! - 1, currentMetadataOffset: h.log.offset, wantFence: false, wantShutDown: false }),
      ErrorCode.STALE_BROKER_EPOCH,
    );
    await expectCode(h.controller.brokerHeartbeat({ brokerId: 9, brokerEpoch: 1, currentMetadataOffset: 0, wantFence: false, wantShutDown: false }), ErrorCode.BROKER_ID_NOT_REGISTERED);
    const created = await h.controller.createTopics(
      [
        { name: 'rf2', partitions: 1, replicationFactor: 2 },
        { name: 'bad name!', partitions: 1, replicationFactor: 1 },
        { name: 'none', partitions: 0, replicationFactor: 1 },
      ],
      false,
    );
    expect(created.value.map((o) => o.error?.code)).toEqual([ErrorCode.INVALID_REPLICATION_FACTOR, ErrorCode.INVALID_TOPIC_EXCEPTION, ErrorCode.INVALID_PARTITIONS]);
    expect(h.log.image).toBe(before);
    // The same incarnation registering again (a retry) gets a newer epoch.
    const again = await h.controller.registerBroker({ brokerId: 1, clusterId: 'c1', incarnationId: 'inc-1', endpoints });
    expect(again.brokerEpoch).toBeGreaterThan(epochs.get(1)!);
  });

  it('fences a broker whose lease expired: its leaderships move to other ISR members and it leaves every ISR', async () => {
    const h = await startController();
    const epochs = await unfencedBrokers(h, 3);
    const created = await h.controller.createTopics([{ name: 't', partitions: 6, replicationFactor: 3 }], false);
    expect(created.value[0]!.error).toBeNull();
    // Brokers 1 and 3 keep heartbeating while time passes; broker 2 falls silent.
    for (let step = 0; step < 4; step++) {
      h.clock.ms += SESSION_TIMEOUT_MS / 2;
      await heartbeatAll(h, epochs, [2]);
    }
    await until(() => h.log.image.brokers.get(2)!.state === 'fenced');
    const partitions = [...h.log.image.topicsByName.get('t')!.partitions.values()];
    expect(partitions.every((p) => p.leader !== 2 && !p.isr.includes(2) && p.leader !== -1)).toBe(true);
    // Leaders that moved bumped their leader epoch.
    expect(partitions.filter((p) => p.replicas[0] === 2).every((p) => p.leaderEpoch === 1)).toBe(true);
    expect(h.log.image.brokers.get(1)!.state).toBe('unfenced');
  });

  it('refuses an AlterPartition with an old partition epoch or from a non-leader, and keeps the ISR', async () => {
    const h = await startController();
    const epochs = await unfencedBrokers(h, 3);
    await h.controller.createTopics([{ name: 't', partitions: 1, replicationFactor: 3 }], false);
    const topic = h.log.image.topicsByName.get('t')!;
    const p = topic.partitions.get(0)!;
    const leader = p.leader;
    const shrunk = p.isr.filter((id) => id !== p.replicas[2]);
    const ok = await h.controller.alterPartition({ brokerId: leader, brokerEpoch: epochs.get(leader)!, topicId: topic.topicId, partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: shrunk });
    expect(ok.value.isr).toEqual(shrunk);
    expect(ok.value.partitionEpoch).toBe(1);
    const before = h.log.image;
    await expectCode(
      h.controller.alterPartition({ brokerId: leader, brokerEpoch: epochs.get(leader)!, topicId: topic.topicId, partition: 0, leaderEpoch: 0, partitionEpoch: 0, newIsr: p.isr }),
      ErrorCode.INVALID_UPDATE_VERSION,
    );
    const follower = p.replicas.find((id) => id !== leader)!;
    await expectCode(
      h.controller.alterPartition({ brokerId: follower, brokerEpoch: epochs.get(follower)!, topicId: topic.topicId, partition: 0, leaderEpoch: 0, partitionEpoch: 1, newIsr: [follower] }),
      ErrorCode.INVALID_REQUEST,
    );
    await expectCode(
      h.controller.alterPartition({ brokerId: leader, brokerEpoch: epochs.get(leader)!, topicId: 'no-such-topic', partition: 0, leaderEpoch: 0, partitionEpoch: 1, newIsr: shrunk }),
      ErrorCode.UNKNOWN_TOPIC_ID,
    );
    expect(h.log.image).toBe(before);
  });

  it('serves watchers entries when they are close and a snapshot when they are far behind', async () => {
    const h = await startController();
    await unfencedBrokers(h, 2);
    await h.controller.createTopics([{ name: 'a', partitions: 2, replicationFactor: 2 }], false);
    await h.controller.createTopics([{ name: 'b', partitions: 1, replicationFactor: 1 }], false);
    // A watcher from the start replays every entry and ends with the controller's image.
    let image: MetadataImage = EMPTY_IMAGE;
    for (let delta = h.log.deltaAfter(-1, 2); delta !== null; delta = h.log.deltaAfter(image.offset, 2)) {
      if (delta.snapshot) throw new Error('expected entries');
      for (const entry of delta.entries) image = applyRecords(image, decodeRecordList(entry.records), entry.offset);
      image = { ...image, offset: delta.entries[delta.entries.length - 1]!.offset };
    }
    expect(imageToRecords(image)).toEqual(imageToRecords(h.log.image));
    // With a window of one entry, anyone further behind gets a snapshot.
    const small = new MetadataLog({ recentEntriesMax: 1 });
    for (const delta of [h.log.deltaAfter(-1, 1000)!]) {
      if (delta.snapshot) throw new Error('expected entries');
      for (const entry of delta.entries) small.apply({ index: entry.offset as never, term: 1 as never, data: entry.records });
    }
    const far = small.deltaAfter(-1, 10)!;
    expect(far.snapshot).toBe(true);
    if (far.snapshot) expect(imageToRecords(imageFromRecords(decodeRecordList(far.entry.records), far.entry.offset))).toEqual(imageToRecords(h.log.image));
  });

  it('rebuilds the same image from snapshot + log after a restart', async () => {
    const store = new AsyncMemoryStore();
    const first = await startController(store, new ManualClock(), 3);
    await unfencedBrokers(first, 3);
    for (const name of ['x', 'y', 'z']) await first.controller.createTopics([{ name, partitions: 3, replicationFactor: 2 }], false);
    expect(first.driver.status().snapshotIndex).toBeGreaterThan(0);
    const expected = imageToRecords(first.log.image);
    first.controller.stop();
    await first.driver.stop();
    running = running.filter((h) => h !== first);
    const second = await startController(store);
    await until(() => second.log.offset >= first.log.offset);
    expect(imageToRecords(second.log.image)).toEqual(expected);
  });

  it('never hands out a producer id block twice, across a restart from snapshot + log', async () => {
    const store = new AsyncMemoryStore();
    const first = await startController(store, new ManualClock(), 2);
    const epochs = await unfencedBrokers(first, 2);
    const blocks = [await first.controller.allocateProducerIds(1, epochs.get(1)!), await first.controller.allocateProducerIds(2, epochs.get(2)!)];
    await expectCode(first.controller.allocateProducerIds(1, epochs.get(1)! + 100), ErrorCode.STALE_BROKER_EPOCH);
    // Later writes put the allocations behind a snapshot, so the restart must find them in it.
    for (const name of ['x', 'y', 'z']) await first.controller.createTopics([{ name, partitions: 1, replicationFactor: 1 }], false);
    await until(() => first.driver.status().snapshotIndex >= blocks[1]!.offset);
    first.controller.stop();
    await first.driver.stop();
    running = running.filter((h) => h !== first);
    const second = await startController(store);
    await until(() => second.log.offset >= first.log.offset);
    blocks.push(await second.controller.allocateProducerIds(1, epochs.get(1)!));
    const starts = blocks.map((b) => b.value.start);
    expect(starts).toEqual([1, 1001, 2001]);
    expect(blocks.every((b) => b.value.length === 1000)).toBe(true);
  });

  describe('partition reassignment and drain', () => {
    function partition(h: Harness, topic: string, index = 0) {
      return h.log.image.topicsByName.get(topic)!.partitions.get(index)!;
    }

    it('completes a pure removal at once, and an added replica once an AlterPartition brings it into the ISR', async () => {
      const h = await startController();
      const epochs = await unfencedBrokers(h, 3);
      await h.controller.createTopics([{ name: 't', partitions: 1, replicationFactor: 2 }], false);
      const [a, b] = partition(h, 't').replicas as [number, number];
      const c = [1, 2, 3].find((id) => id !== a && id !== b)!;
      // Removing the leader: completes in the same entry, leadership moves to the remaining replica.
      const removed = await h.controller.alterPartitionReassignments([{ topic: 't', partition: 0, targetReplicas: [b] }]);
      expect(removed.value[0]!.error).toBeNull();
      expect(partition(h, 't')).toMatchObject({ replicas: [b], isr: [b], leader: b, leaderEpoch: 1, addingReplicas: [], removingReplicas: [] });
      // Adding a replica: in progress until the leader reports it in sync.
      await h.controller.alterPartitionReassignments([{ topic: 't', partition: 0, targetReplicas: [c, b] }]);
      let p = partition(h, 't');
      expect(p).toMatchObject({ replicas: [c, b], addingReplicas: [c], removingReplicas: [] });
      const listed = await h.controller.listPartitionReassignments([]);
      expect(listed.value.reassignments).toEqual([{ topic: 't', partition: 0, replicas: [c, b], addingReplicas: [c], removingReplicas: [], isr: [b], leader: b, addingNotInIsr: [c] }]);
      const altered = await h.controller.alterPartition({
        brokerId: b,
        brokerEpoch: epochs.get(b)!,
        topicId: p.topicId,
        partition: 0,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        newIsr: [b, c],
      });
      p = partition(h, 't');
      expect(p).toMatchObject({ replicas: [c, b], addingReplicas: [], removingReplicas: [] });
      expect(altered.value).toBe(p);
      expect((await h.controller.listPartitionReassignments(['t'])).value.reassignments).toEqual([]);
    });

    it('cancels a reassignment in progress, restoring the original replicas', async () => {
      const h = await startController();
      await unfencedBrokers(h, 3);
      await h.controller.createTopics([{ name: 't', partitions: 1, replicationFactor: 1 }], false);
      const original = partition(h, 't');
      const other = [1, 2, 3].filter((id) => id !== original.replicas[0]);
      await h.controller.alterPartitionReassignments([{ topic: 't', partition: 0, targetReplicas: other }]);
      expect(partition(h, 't').removingReplicas).toEqual(original.replicas);
      const cancelled = await h.controller.alterPartitionReassignments([{ topic: 't', partition: 0, targetReplicas: null }]);
      expect(cancelled.value[0]!.error).toBeNull();
      expect(partition(h, 't')).toMatchObject({ replicas: original.replicas, isr: original.isr, leader: original.leader, addingReplicas: [], removingReplicas: [] });
    });

    it('refuses bad entries with specific errors and commits nothing for them', async () => {
      const h = await startController();
      await unfencedBrokers(h, 3);
      await h.controller.createTopics([{ name: 't', partitions: 1, replicationFactor: 2 }], false);
      const before = h.log.image;
      const outcome = await h.controller.alterPartitionReassignments([
        { topic: 'nope', partition: 0, targetReplicas: [1] },
        { topic: 't', partition: 5, targetReplicas: [1] },
        { topic: 't', partition: 0, targetReplicas: [1, 1] },
        { topic: 't', partition: 0, targetReplicas: [1, 42] },
        { topic: 't', partition: 0, targetReplicas: null },
      ]);
      expect(outcome.value.map((o) => o.error?.code)).toEqual([
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        ErrorCode.NO_REASSIGNMENT_IN_PROGRESS,
      ]);
      expect(outcome.value[3]!.error!.message).toMatch(/broker 42, which is not registered/);
      expect(h.log.image).toBe(before);
      await expectCode(h.controller.drainBroker(42), ErrorCode.BROKER_ID_NOT_REGISTERED);
      // RF 2 on 3 brokers can drain one broker, but with RF 3 there is nowhere to go.
      await h.controller.createTopics([{ name: 'full', partitions: 1, replicationFactor: 3 }], false);
      const full = h.log.image;
      await expectCode(h.controller.drainBroker(1), ErrorCode.INVALID_REPLICATION_FACTOR);
      expect(h.log.image).toBe(full);
      const listed = await h.controller.listPartitionReassignments(['nope', 't']);
      expect(listed.value).toEqual({ reassignments: [], unknownTopics: ['nope'] });
    });

    it('drains a broker: every partition it holds gets a target without it, and its leaderships move at once', async () => {
      const h = await startController();
      await unfencedBrokers(h, 4);
      await h.controller.createTopics([{ name: 't', partitions: 8, replicationFactor: 2 }], false);
      const held = [...h.log.image.topicsByName.get('t')!.partitions.values()].filter((p) => p.replicas.includes(2));
      expect(held.some((p) => p.leader === 2)).toBe(true);
      const drained = await h.controller.drainBroker(2);
      expect(drained.value.map((d) => d.move.partition).sort()).toEqual(held.map((p) => p.partition).sort());
      for (const { move, leaderId } of drained.value) {
        const p = partition(h, 't', move.partition);
        expect(move.targetReplicas).not.toContain(2);
        expect(p.removingReplicas).toEqual([2]);
        expect(p.leader).toBe(leaderId);
        expect(p.leader).not.toBe(2);
      }
      expect([...h.log.image.topicsByName.get('t')!.partitions.values()].every((p) => p.leader !== 2)).toBe(true);
      // Draining again starts nothing: broker 2 is already being removed everywhere.
      expect((await h.controller.drainBroker(2)).value).toEqual([]);
    });
  });
});
