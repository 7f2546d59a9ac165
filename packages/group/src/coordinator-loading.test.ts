import { ErrorCode, SeededRandom } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { MalformedBytesError } from './binary.js';
import { GroupCoordinator } from './coordinator.js';
import { groupPartition } from './group-partition.js';
import { groupMetadataRecord, offsetCommitRecord } from './records.js';
import {
  FakeGroupLog,
  GROUP_ID,
  ManualScheduler,
  RecordingLogger,
  TEST_CONFIG,
  TOPIC,
  commitRequest,
  heartbeatRequest,
  joinRequest,
  settle,
  stableGroup,
  syncRequest,
  testCoordinator,
} from './test-helpers.js';
import type { GroupRecord, StoredGroupRecord } from './types.js';

function stored(records: readonly GroupRecord[]): StoredGroupRecord[] {
  return records.map((record, offset) => ({ ...record, offset, timestampMs: 0 }));
}

describe('loading a partition', () => {
  it("rebuilds a previous coordinator's groups and offsets from its records", async () => {
    const previous = testCoordinator();
    const [leader, follower] = await stableGroup(previous, ['instance-a', null]);
    await previous.coordinator.commitOffsets(commitRequest(follower!.memberId, 1, [1]));
    await previous.coordinator.commitOffsets(commitRequest('', -1, [0], { groupId: 'simple' }));
    const described = previous.coordinator.describeGroups([GROUP_ID, 'simple']);

    const next = testCoordinator({ loaded: false });
    next.coordinator.beginLoading(0, 2);
    expect(next.coordinator.describeGroups([GROUP_ID])[0]!.errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect((await next.coordinator.joinGroup(joinRequest())).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect(next.coordinator.fetchOffsets({ groupId: GROUP_ID, topics: null, requireStable: false }).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    next.coordinator.replay(0, previous.log.written);
    expect(next.coordinator.listGroups(null)).toEqual([]);
    next.coordinator.finishLoading(0, 2);

    expect(next.coordinator.describeGroups([GROUP_ID, 'simple'])).toEqual(described);
    expect(next.coordinator.fetchOffsets({ groupId: GROUP_ID, topics: null, requireStable: true })).toEqual(previous.coordinator.fetchOffsets({ groupId: GROUP_ID, topics: null, requireStable: true }));
    expect(next.coordinator.heartbeat(heartbeatRequest(leader!.memberId, 1, { groupInstanceId: 'instance-a' })).errorCode).toBe(0);
    // The loaded assignment still bounds what a member may commit.
    const commit = await next.coordinator.commitOffsets(commitRequest(follower!.memberId, 1, [0, 1]));
    expect(commit.topics[0]!.partitions.map((partition) => partition.errorCode)).toEqual([ErrorCode.ILLEGAL_GENERATION, 0]);
  });

  it('gives loaded members fresh sessions: those that do not heartbeat are removed', async () => {
    const previous = testCoordinator();
    const [leader] = await stableGroup(previous, [null, null]);
    const next = testCoordinator({ loaded: false });
    next.coordinator.beginLoading(0, 2);
    next.coordinator.replay(0, previous.log.written);
    next.coordinator.finishLoading(0, 2);
    for (let elapsedMs = 4_000; elapsedMs <= 8_000; elapsedMs += 4_000) {
      next.scheduler.advance(4_000);
      next.coordinator.heartbeat(heartbeatRequest(leader!.memberId, 1));
    }
    next.scheduler.advance(2_000);
    expect(next.coordinator.describeGroups([GROUP_ID])[0]).toMatchObject({ groupState: 'PreparingRebalance', members: [{ memberId: leader!.memberId }] });
  });

  it('applies records in order: later records win, tombstones delete', () => {
    const test = testCoordinator({ loaded: false });
    const offset = (committedOffset: number) => ({ committedOffset, committedLeaderEpoch: -1, metadata: null, commitTimestampMs: 0 });
    const emptyGroup = { protocolType: 'consumer', generationId: 4, protocolName: null, leader: null, stateTimestampMs: 0, members: [] };
    test.coordinator.beginLoading(0, 1);
    test.coordinator.replay(
      0,
      stored([
        offsetCommitRecord({ groupId: 'a', topic: TOPIC, partition: 0 }, offset(1)),
        offsetCommitRecord({ groupId: 'a', topic: TOPIC, partition: 0 }, offset(2)),
        offsetCommitRecord({ groupId: 'a', topic: TOPIC, partition: 1 }, offset(3)),
        offsetCommitRecord({ groupId: 'a', topic: TOPIC, partition: 1 }, null),
        groupMetadataRecord('b', emptyGroup),
        groupMetadataRecord('c', emptyGroup),
        groupMetadataRecord('c', null),
      ]),
    );
    test.coordinator.finishLoading(0, 1);
    expect(test.coordinator.fetchOffsets({ groupId: 'a', topics: null, requireStable: false }).topics).toEqual([
      { name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 2, committedLeaderEpoch: -1, metadata: null, errorCode: 0 }] },
    ]);
    expect(test.coordinator.listGroups(null)).toEqual([
      { groupId: 'b', protocolType: 'consumer', groupState: 'Empty' },
      { groupId: 'a', protocolType: '', groupState: 'Empty' },
    ]);
  });

  it('skips a record of an unknown key version with a warning, and throws on a malformed one', () => {
    const test = testCoordinator({ loaded: false });
    test.coordinator.beginLoading(0, 1);
    test.coordinator.replay(0, stored([{ key: new Uint8Array([0, 99, 1]), value: new Uint8Array([1]) }]));
    expect(test.logger.messages('warn')).toEqual(['skipping a __consumer_offsets record of an unknown key version']);
    const malformed = { ...offsetCommitRecord({ groupId: 'a', topic: TOPIC, partition: 0 }, null), value: new Uint8Array([0, 0, 1]) };
    expect(() => test.coordinator.replay(0, stored([malformed]))).toThrow(MalformedBytesError);
  });

  it('ignores a finishLoading of another leader epoch, and records for a partition that is not loading', () => {
    const test = testCoordinator({ loaded: false });
    test.coordinator.replay(0, stored([groupMetadataRecord('x', null)]));
    test.coordinator.beginLoading(0, 2);
    test.coordinator.finishLoading(0, 1);
    expect(test.coordinator.describeGroups([GROUP_ID])[0]!.errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    test.coordinator.finishLoading(0, 2);
    expect(test.coordinator.describeGroups([GROUP_ID])[0]!.errorCode).toBe(0);
    expect(test.logger.messages('warn')).toHaveLength(2);
  });

  it('answers NOT_COORDINATOR for groups of partitions it does not hold', async () => {
    const scheduler = new ManualScheduler();
    const coordinator = new GroupCoordinator({ config: TEST_CONFIG, partitionCount: 50, clock: scheduler, scheduler, random: new SeededRandom(1), logger: new RecordingLogger(), log: new FakeGroupLog() });
    const ours = groupPartition('ours', 50);
    expect(groupPartition('theirs', 50)).not.toBe(ours);
    coordinator.beginLoading(ours, 1);
    coordinator.finishLoading(ours, 1);
    expect(coordinator.partitionFor('ours')).toBe(ours);
    expect((await coordinator.commitOffsets(commitRequest('', -1, [0], { groupId: 'ours' }))).topics[0]!.partitions[0]!.errorCode).toBe(0);
    expect((await coordinator.commitOffsets(commitRequest('', -1, [0], { groupId: 'theirs' }))).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect((await coordinator.joinGroup(joinRequest({ groupId: 'theirs' }))).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(await coordinator.deleteGroups(['theirs'])).toEqual([{ groupId: 'theirs', errorCode: ErrorCode.NOT_COORDINATOR }]);
    expect(coordinator.fetchOffsets({ groupId: 'theirs', topics: null, requireStable: false }).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect((await coordinator.leaveGroup({ groupId: 'theirs', members: [] })).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });
});

describe('unloading', () => {
  it('answers every parked request NOT_COORDINATOR, cancels the timers and forgets the state', async () => {
    const test = testCoordinator();
    const [leader] = await stableGroup(test, [null, null]);
    // A parked join, a MEMBER_ID_REQUIRED waiting, and a commit waiting for its append.
    const parkedJoin = test.coordinator.joinGroup(joinRequest({ memberId: leader!.memberId }));
    await test.coordinator.joinGroup(joinRequest({ requireKnownMemberId: true }));
    test.log.holdAppends();
    const commit = test.coordinator.commitOffsets(commitRequest('', -1, [0], { groupId: 'simple' }));
    await settle();

    test.coordinator.unload(0);
    expect((await parkedJoin).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect((await commit).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    test.log.release();
    await settle();
    expect(test.scheduler.pendingTaskCount).toBe(1); // only the offset expiry check
    expect(test.coordinator.describeGroups([GROUP_ID])[0]!.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(test.coordinator.listGroups(null)).toEqual([]);
  });

  it('answers a parked SyncGroup NOT_COORDINATOR', async () => {
    const test = testCoordinator();
    const joins = [test.coordinator.joinGroup(joinRequest()), test.coordinator.joinGroup(joinRequest())];
    test.scheduler.advance(0);
    const [, follower] = await Promise.all(joins);
    const parkedSync = test.coordinator.syncGroup(syncRequest(follower!.memberId, 1));
    test.coordinator.unload(0);
    expect((await parkedSync).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });

  it('starts over when the partition is loaded again', async () => {
    const test = testCoordinator();
    await stableGroup(test, [null]);
    test.coordinator.beginLoading(0, 2);
    test.coordinator.finishLoading(0, 2);
    expect(test.coordinator.describeGroups([GROUP_ID])[0]!.groupState).toBe('Dead');
  });

  it('close answers everything and leaves no timer behind', async () => {
    const test = testCoordinator();
    const [leader] = await stableGroup(test, [null, null]);
    const parkedJoin = test.coordinator.joinGroup(joinRequest({ memberId: leader!.memberId }));
    test.coordinator.close();
    expect((await parkedJoin).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(test.scheduler.pendingTaskCount).toBe(0);
    expect(test.coordinator.heartbeat(heartbeatRequest(leader!.memberId, 1)).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });
});
