import { ErrorCode, RivuletError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { decodeRecordKey } from './records.js';
import { GROUP_ID, TEST_CONFIG, TOPIC, assignment, commitRequest, joinRequest, settle, stableGroup, syncRequest, testCoordinator } from './test-helpers.js';
import type { TestCoordinator } from './test-helpers.js';
import type { OffsetCommitResult, OffsetFetchResult } from './types.js';

function codes(result: OffsetCommitResult): number[] {
  return result.topics.flatMap((topic) => topic.partitions.map((partition) => partition.errorCode));
}

function fetchAll(test: TestCoordinator, groupId = GROUP_ID): OffsetFetchResult {
  return test.coordinator.fetchOffsets({ groupId, topics: null, requireStable: false });
}

function committedOffsets(test: TestCoordinator, partitions: readonly number[], requireStable = false): { offset: number; errorCode: number }[] {
  const fetched = test.coordinator.fetchOffsets({ groupId: GROUP_ID, topics: [{ name: TOPIC, partitionIndexes: partitions }], requireStable });
  return fetched.topics[0]!.partitions.map((partition) => ({ offset: partition.committedOffset, errorCode: partition.errorCode }));
}

describe('OffsetCommit and OffsetFetch', () => {
  it('accepts a simple commit to an unknown group, which then exists, Empty, for its offsets', async () => {
    const test = testCoordinator();
    expect(codes(await test.coordinator.commitOffsets(commitRequest('', -1, [0, 1])))).toEqual([0, 0]);
    expect(test.coordinator.describeGroups([GROUP_ID])[0]).toMatchObject({ groupState: 'Empty', protocolType: '' });
    expect(fetchAll(test)).toEqual({
      errorCode: 0,
      topics: [
        {
          name: TOPIC,
          partitions: [
            { partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: 3, metadata: 'm', errorCode: 0 },
            { partitionIndex: 1, committedOffset: 42, committedLeaderEpoch: 3, metadata: 'm', errorCode: 0 },
          ],
        },
      ],
    });
    expect(test.log.appendCount).toBe(1);
  });

  it('answers -1 for partitions without a committed offset, and nothing for an unknown group', async () => {
    const test = testCoordinator();
    await test.coordinator.commitOffsets(commitRequest('', -1, [0]));
    expect(committedOffsets(test, [0, 5])).toEqual([
      { offset: 42, errorCode: 0 },
      { offset: -1, errorCode: 0 },
    ]);
    expect(fetchAll(test, 'unknown')).toEqual({ errorCode: 0, topics: [] });
  });

  it('lists every topic and partition in order when no topics are asked for', async () => {
    const test = testCoordinator();
    const commit = (topic: string, partitionIndex: number) =>
      test.coordinator.commitOffsets({ ...commitRequest('', -1, []), topics: [{ name: topic, partitions: [{ partitionIndex, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }] });
    await commit('b', 2);
    await commit('a', 1);
    await commit('b', 0);
    expect(fetchAll(test).topics.map((topic) => [topic.name, topic.partitions.map((partition) => partition.partitionIndex)])).toEqual([
      ['a', [1]],
      ['b', [0, 2]],
    ]);
  });

  it('refuses a member commit to an unknown group with ILLEGAL_GENERATION and creates nothing', async () => {
    const test = testCoordinator();
    expect(codes(await test.coordinator.commitOffsets(commitRequest('m', 1, [0])))).toEqual([ErrorCode.ILLEGAL_GENERATION]);
    expect(test.coordinator.describeGroups([GROUP_ID])[0]!.groupState).toBe('Dead');
    expect(test.coordinator.listGroups(null)).toEqual([]);
  });

  it("checks a member's commit in Kafka's order, refusing the whole request", async () => {
    const test = testCoordinator();
    const [leader, follower] = await stableGroup(test, ['instance-a', null]);
    const commit = async (request: Parameters<typeof commitRequest>) => codes(await test.coordinator.commitOffsets(commitRequest(...request)))[0];
    expect(await commit(['', -1, [0]])).toBe(ErrorCode.UNKNOWN_MEMBER_ID); // a simple commit to a group with members
    expect(await commit(['nobody', 1, [0]])).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await commit([leader!.memberId, 1, [0], { groupInstanceId: 'instance-z' }])).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(await commit([follower!.memberId, 1, [0], { groupInstanceId: 'instance-a' }])).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(await commit([follower!.memberId, 2, [1]])).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(await commit([follower!.memberId, 1, [1]])).toBe(0);
    expect(fetchAll(test).topics[0]!.partitions.map((partition) => partition.partitionIndex)).toEqual([1]);
  });

  it('accepts commits of the current generation while the group rebalances, refuses them during the sync', async () => {
    const test = testCoordinator();
    const [leader, follower] = await stableGroup(test, [null, null]);
    const rejoins = [test.coordinator.joinGroup(joinRequest({ memberId: leader!.memberId }))];
    expect(codes(await test.coordinator.commitOffsets(commitRequest(follower!.memberId, 1, [1])))).toEqual([0]);
    rejoins.push(test.coordinator.joinGroup(joinRequest({ memberId: follower!.memberId })));
    await Promise.all(rejoins);
    expect(codes(await test.coordinator.commitOffsets(commitRequest(follower!.memberId, 2, [1])))).toEqual([ErrorCode.REBALANCE_IN_PROGRESS]);
  });

  it('changes nothing for refused commits, whatever the reason', async () => {
    const test = testCoordinator();
    const [leader, follower] = await stableGroup(test, ['instance-a', null]);
    await test.coordinator.commitOffsets(commitRequest(follower!.memberId, 1, [1], { offset: 7 }));
    const snapshot = () => ({ described: test.coordinator.describeGroups([GROUP_ID]), fetched: fetchAll(test), written: test.log.written.length, listed: test.coordinator.listGroups(null) });
    const before = snapshot();
    const refused = [
      commitRequest('', -1, [1]),
      commitRequest('nobody', 1, [1]),
      commitRequest(follower!.memberId, 1, [1], { groupInstanceId: 'instance-a' }),
      commitRequest(follower!.memberId, 0, [1]),
      commitRequest(follower!.memberId, 1, [0, 2]),
      { ...commitRequest(leader!.memberId, 1, []), groupInstanceId: 'instance-a', topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: 'x'.repeat(99) }] }] },
      { ...commitRequest(leader!.memberId, 1, []), groupInstanceId: 'instance-a', topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 2 ** 60, committedLeaderEpoch: -1, committedMetadata: null }] }] },
      commitRequest('m', 1, [0], { groupId: 'unknown' }),
    ];
    for (const request of refused) expect(codes(await test.coordinator.commitOffsets(request)).every((code) => code !== 0)).toBe(true);
    expect(snapshot()).toEqual(before);
  });

  it('refuses, partition by partition, what the member was not assigned in this generation', async () => {
    const test = testCoordinator();
    const [leader, follower] = await stableGroup(test, [null, null]);
    expect(codes(await test.coordinator.commitOffsets(commitRequest(follower!.memberId, 1, [0, 1, 2])))).toEqual([ErrorCode.ILLEGAL_GENERATION, 0, ErrorCode.ILLEGAL_GENERATION]);
    expect(codes(await test.coordinator.commitOffsets({ ...commitRequest(leader!.memberId, 1, [0]), topics: [{ name: 'other', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }] }))).toEqual([
      ErrorCode.ILLEGAL_GENERATION,
    ]);
    expect(committedOffsets(test, [0, 1, 2]).map((partition) => partition.offset)).toEqual([-1, 42, -1]);
  });

  it('lets a member with no assignment of this generation commit only what it held before and nobody holds now', async () => {
    const test = testCoordinator();
    const [leader] = await stableGroup(test, [null]); // partition 0 in generation 1
    // A failed assignment write forgets the assignments; the member is back in the rebalance at generation 2.
    const rejoin = test.coordinator.joinGroup(joinRequest({ memberId: leader!.memberId }));
    expect((await rejoin).generationId).toBe(2);
    test.log.failAppends(new RivuletError('NOT_ENOUGH_REPLICAS'));
    await test.coordinator.syncGroup(syncRequest(leader!.memberId, 2, { assignments: [{ memberId: leader!.memberId, assignment: assignment([0, 1]) }] }));
    test.log.failAppends(null);
    expect(codes(await test.coordinator.commitOffsets(commitRequest(leader!.memberId, 2, [0, 1])))).toEqual([0, ErrorCode.ILLEGAL_GENERATION]);
  });

  it('lets a cooperative member commit the partitions it gives up after learning its new assignment, until another member holds them', async () => {
    const test = testCoordinator();
    const [a, b] = await stableGroup(test, [null, null]); // a: 0, b: 1
    // A third member joins; the leader's cooperative assignment takes partition 1 from b and holds it back.
    const joinC = test.coordinator.joinGroup(joinRequest({ clientId: 'c' }));
    const joins = [a!, b!].map((m) => test.coordinator.joinGroup(joinRequest({ memberId: m.memberId, clientId: 'client' })));
    test.scheduler.advance(0);
    const [ja, jb, jc] = await Promise.all([...joins, joinC]);
    const generation2 = ja!.generationId;
    const syncs = [
      test.coordinator.syncGroup(syncRequest(a!.memberId, generation2, { assignments: [
        { memberId: a!.memberId, assignment: assignment([0]) },
        { memberId: b!.memberId, assignment: assignment([]) },
        { memberId: jc!.memberId, assignment: assignment([]) },
      ] })),
      test.coordinator.syncGroup(syncRequest(jb!.memberId, generation2)),
      test.coordinator.syncGroup(syncRequest(jc!.memberId, generation2)),
    ];
    await Promise.all(syncs);
    // b commits partition 1 in onPartitionsRevoked, in generation 2; c may not commit what it never held.
    expect(codes(await test.coordinator.commitOffsets(commitRequest(b!.memberId, generation2, [1])))).toEqual([0]);
    expect(codes(await test.coordinator.commitOffsets(commitRequest(jc!.memberId, generation2, [1])))).toEqual([ErrorCode.ILLEGAL_GENERATION]);
    // Next rebalance: c gets partition 1; b's commits for it are refused from then on.
    const rejoins = [a!.memberId, b!.memberId, jc!.memberId].map((memberId) => test.coordinator.joinGroup(joinRequest({ memberId })));
    test.scheduler.advance(0);
    const generation3 = (await Promise.all(rejoins))[0]!.generationId;
    await Promise.all([
      test.coordinator.syncGroup(syncRequest(a!.memberId, generation3, { assignments: [
        { memberId: a!.memberId, assignment: assignment([0]) },
        { memberId: b!.memberId, assignment: assignment([]) },
        { memberId: jc!.memberId, assignment: assignment([1]) },
      ] })),
      test.coordinator.syncGroup(syncRequest(b!.memberId, generation3)),
      test.coordinator.syncGroup(syncRequest(jc!.memberId, generation3)),
    ]);
    expect(codes(await test.coordinator.commitOffsets(commitRequest(b!.memberId, generation3, [1])))).toEqual([ErrorCode.ILLEGAL_GENERATION]);
    expect(codes(await test.coordinator.commitOffsets(commitRequest(jc!.memberId, generation3, [1])))).toEqual([0]);
  });

  it('does not check members whose assignment is not a consumer assignment, and warns once', async () => {
    const test = testCoordinator();
    const joins = [test.coordinator.joinGroup(joinRequest())];
    test.scheduler.advance(0);
    const [leader] = await Promise.all(joins);
    await test.coordinator.syncGroup(syncRequest(leader!.memberId, 1, { assignments: [{ memberId: leader!.memberId, assignment: new Uint8Array([0xff]) }] }));
    expect(codes(await test.coordinator.commitOffsets(commitRequest(leader!.memberId, 1, [0, 7])))).toEqual([0, 0]);
    expect(codes(await test.coordinator.commitOffsets(commitRequest(leader!.memberId, 1, [9])))).toEqual([0]);
    expect(test.logger.messages('warn')).toHaveLength(1);
    expect(test.logger.messages('warn')[0]).toContain('not a consumer protocol assignment');
  });

  it('does not check members of a group of another protocol type', async () => {
    const test = testCoordinator();
    const joins = [test.coordinator.joinGroup(joinRequest({ protocolType: 'connect' }))];
    test.scheduler.advance(0);
    const [leader] = await Promise.all(joins);
    await test.coordinator.syncGroup(syncRequest(leader!.memberId, 1, { protocolType: 'connect' }));
    expect(codes(await test.coordinator.commitOffsets(commitRequest(leader!.memberId, 1, [3])))).toEqual([0]);
  });

  it('refuses metadata over the limit for its partition only', async () => {
    const test = testCoordinator();
    const request = commitRequest('', -1, []);
    const result = await test.coordinator.commitOffsets({
      ...request,
      topics: [
        {
          name: TOPIC,
          partitions: [
            { partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: 'x'.repeat(TEST_CONFIG.offsetMetadataMaxBytes + 1) },
            { partitionIndex: 1, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: 'é'.repeat(TEST_CONFIG.offsetMetadataMaxBytes / 2) },
            { partitionIndex: 2, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: 'é'.repeat(TEST_CONFIG.offsetMetadataMaxBytes / 2 + 1) },
          ],
        },
      ],
    });
    expect(codes(result)).toEqual([ErrorCode.OFFSET_METADATA_TOO_LARGE, 0, ErrorCode.OFFSET_METADATA_TOO_LARGE]);
  });

  it('creates no group when every partition of a simple commit is refused', async () => {
    const test = testCoordinator();
    const result = await test.coordinator.commitOffsets({
      ...commitRequest('', -1, []),
      topics: [{ name: TOPIC, partitions: [{ partitionIndex: -1, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }],
    });
    expect(codes(result)).toEqual([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(test.coordinator.listGroups(null)).toEqual([]);
    expect(test.log.appendCount).toBe(0);
  });

  it('writes the accepted partitions in one append and updates the offsets only once it is committed', async () => {
    const test = testCoordinator();
    await test.coordinator.commitOffsets(commitRequest('', -1, [0], { offset: 1 }));
    test.log.holdAppends();
    const commit = test.coordinator.commitOffsets(commitRequest('', -1, [0, 1], { offset: 2 }));
    await settle();
    expect(test.log.heldCount).toBe(1);
    expect(committedOffsets(test, [0, 1])).toEqual([
      { offset: 1, errorCode: 0 },
      { offset: -1, errorCode: 0 },
    ]);
    expect(committedOffsets(test, [0, 1, 2], true)).toEqual([
      { offset: -1, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT },
      { offset: -1, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT },
      { offset: -1, errorCode: 0 },
    ]);
    test.log.release();
    expect(codes(await commit)).toEqual([0, 0]);
    expect(committedOffsets(test, [0, 1], true)).toEqual([
      { offset: 2, errorCode: 0 },
      { offset: 2, errorCode: 0 },
    ]);
  });

  it('answers every accepted partition with the append error and keeps the old offsets', async () => {
    const test = testCoordinator();
    await test.coordinator.commitOffsets(commitRequest('', -1, [0], { offset: 1 }));
    test.log.failAppends(new RivuletError('NOT_LEADER_OR_FOLLOWER'));
    const result = await test.coordinator.commitOffsets({
      ...commitRequest('', -1, [0, 1], { offset: 2 }),
      topics: [{ name: TOPIC, partitions: [...commitRequest('', -1, [0, 1], { offset: 2 }).topics[0]!.partitions, { partitionIndex: 2, committedOffset: 2, committedLeaderEpoch: -1, committedMetadata: 'x'.repeat(99) }] }],
    });
    expect(codes(result)).toEqual([ErrorCode.NOT_COORDINATOR, ErrorCode.NOT_COORDINATOR, ErrorCode.OFFSET_METADATA_TOO_LARGE]);
    expect(committedOffsets(test, [0, 1], true).map((partition) => partition.offset)).toEqual([1, -1]);
  });

  it('forgets the group a failed simple commit would have created', async () => {
    const test = testCoordinator();
    test.log.failAppends(new RivuletError('MESSAGE_TOO_LARGE'));
    expect(codes(await test.coordinator.commitOffsets(commitRequest('', -1, [0])))).toEqual([ErrorCode.INVALID_COMMIT_OFFSET_SIZE]);
    expect(test.coordinator.listGroups(null)).toEqual([]);
  });
});

describe('offset expiry (KIP-211)', () => {
  const { offsetsRetentionMs, offsetsRetentionCheckIntervalMs } = TEST_CONFIG;

  it('removes the offsets of a simple-commit group once the retention time has passed since the commit, then the group', async () => {
    const test = testCoordinator();
    await test.coordinator.commitOffsets(commitRequest('', -1, [0]));
    test.scheduler.advance(offsetsRetentionMs / 2);
    await test.coordinator.commitOffsets(commitRequest('', -1, [1]));
    test.scheduler.advance(offsetsRetentionMs / 2 + offsetsRetentionCheckIntervalMs);
    await settle();
    expect(committedOffsets(test, [0, 1]).map((partition) => partition.offset)).toEqual([-1, 42]);
    test.scheduler.advance(offsetsRetentionMs / 2);
    await settle();
    expect(fetchAll(test).topics).toEqual([]);
    expect(test.coordinator.describeGroups([GROUP_ID])[0]!.groupState).toBe('Dead');
    const tombstones = test.log.written.filter((record) => record.value === null).map((record) => decodeRecordKey(record.key));
    expect(tombstones).toEqual([
      { type: 'offsetCommit', groupId: GROUP_ID, topic: TOPIC, partition: 0 },
      { type: 'offsetCommit', groupId: GROUP_ID, topic: TOPIC, partition: 1 },
      { type: 'groupMetadata', groupId: GROUP_ID },
    ]);
  });

  it("keeps a group's offsets while it has members, and counts retention from when it became empty", async () => {
    const test = testCoordinator();
    const [member] = await stableGroup(test, [null]);
    await test.coordinator.commitOffsets(commitRequest(member!.memberId, 1, [0]));
    for (let elapsedMs = 0; elapsedMs < 2 * offsetsRetentionMs; elapsedMs += 5_000) {
      test.scheduler.advance(5_000);
      test.coordinator.heartbeat({ groupId: GROUP_ID, generationId: 1, memberId: member!.memberId, groupInstanceId: null });
    }
    await settle();
    expect(committedOffsets(test, [0])[0]!.offset).toBe(42);
    await test.coordinator.leaveGroup({ groupId: GROUP_ID, members: [{ memberId: member!.memberId, groupInstanceId: null, reason: null }] });
    test.scheduler.advance(offsetsRetentionMs - offsetsRetentionCheckIntervalMs);
    await settle();
    expect(committedOffsets(test, [0])[0]!.offset).toBe(42);
    test.scheduler.advance(2 * offsetsRetentionCheckIntervalMs);
    await settle();
    expect(committedOffsets(test, [0])[0]!.offset).toBe(-1);
  });

  it('leaves a partition with a commit in flight for the next check', async () => {
    const test = testCoordinator();
    await test.coordinator.commitOffsets(commitRequest('', -1, [0]));
    test.scheduler.advance(offsetsRetentionMs);
    test.log.holdAppends();
    void test.coordinator.commitOffsets(commitRequest('', -1, [0], { offset: 50 }));
    test.scheduler.advance(offsetsRetentionCheckIntervalMs);
    expect(test.log.heldCount).toBe(1);
    test.log.release();
    await settle();
    expect(committedOffsets(test, [0])[0]!.offset).toBe(50);
  });

  it('keeps the offsets when the tombstones cannot be written, and tries again', async () => {
    const test = testCoordinator();
    await test.coordinator.commitOffsets(commitRequest('', -1, [0]));
    test.log.failAppends(new RivuletError('NOT_ENOUGH_REPLICAS'));
    test.scheduler.advance(offsetsRetentionMs + offsetsRetentionCheckIntervalMs);
    await settle();
    expect(committedOffsets(test, [0])[0]!.offset).toBe(42);
    test.log.failAppends(null);
    test.scheduler.advance(offsetsRetentionCheckIntervalMs);
    await settle();
    expect(committedOffsets(test, [0])[0]!.offset).toBe(-1);
  });
});

describe('DeleteGroups', () => {
  it('deletes an Empty group with its offsets, refuses a group with members, and does not find an unknown one', async () => {
    const test = testCoordinator();
    await test.coordinator.commitOffsets(commitRequest('', -1, [0, 1], { groupId: 'simple' }));
    await stableGroup(test, [null]);
    const deleted = await test.coordinator.deleteGroups(['simple', GROUP_ID, 'unknown', 'simple']);
    expect(deleted).toEqual([
      { groupId: 'simple', errorCode: 0 },
      { groupId: GROUP_ID, errorCode: ErrorCode.NON_EMPTY_GROUP },
      { groupId: 'unknown', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
      { groupId: 'simple', errorCode: 0 },
    ]);
    expect(test.coordinator.describeGroups(['simple'])[0]!.groupState).toBe('Dead');
    expect(fetchAll(test, 'simple').topics).toEqual([]);
    expect(test.log.written.slice(-3).map((record) => [decodeRecordKey(record.key), record.value])).toEqual([
      [{ type: 'offsetCommit', groupId: 'simple', topic: TOPIC, partition: 0 }, null],
      [{ type: 'offsetCommit', groupId: 'simple', topic: TOPIC, partition: 1 }, null],
      [{ type: 'groupMetadata', groupId: 'simple' }, null],
    ]);
  });

  it('holds the group Dead while the deletion is written, and brings it back Empty if it cannot be', async () => {
    const test = testCoordinator();
    await test.coordinator.commitOffsets(commitRequest('', -1, [0]));
    test.log.holdAppends();
    const deletion = test.coordinator.deleteGroups([GROUP_ID]);
    expect(test.coordinator.describeGroups([GROUP_ID])[0]!.groupState).toBe('Dead');
    expect(codes(await test.coordinator.commitOffsets(commitRequest('', -1, [0])))).toEqual([ErrorCode.COORDINATOR_NOT_AVAILABLE]);
    expect((await test.coordinator.joinGroup(joinRequest())).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    test.log.rejectHeld(new RivuletError('NOT_LEADER_OR_FOLLOWER'));
    expect(await deletion).toEqual([{ groupId: GROUP_ID, errorCode: ErrorCode.NOT_COORDINATOR }]);
    expect(test.coordinator.describeGroups([GROUP_ID])[0]!.groupState).toBe('Empty');
    expect(committedOffsets(test, [0])[0]!.offset).toBe(42);
  });

  it('deletes a group that became Empty when its members left', async () => {
    const test = testCoordinator();
    const [member] = await stableGroup(test, [null]);
    await test.coordinator.leaveGroup({ groupId: GROUP_ID, members: [{ memberId: member!.memberId, groupInstanceId: null, reason: null }] });
    expect(await test.coordinator.deleteGroups([GROUP_ID])).toEqual([{ groupId: GROUP_ID, errorCode: 0 }]);
    expect(test.coordinator.listGroups(null)).toEqual([]);
  });
});

describe('DescribeGroups and ListGroups', () => {
  it('describes members with metadata and assignment only once the group is Stable', async () => {
    const test = testCoordinator();
    const joins = [test.coordinator.joinGroup(joinRequest({ clientId: 'c1', clientHost: '/10.0.0.1' }))];
    test.scheduler.advance(0);
    const [leader] = await Promise.all(joins);
    expect(test.coordinator.describeGroups([GROUP_ID])[0]).toMatchObject({ groupState: 'CompletingRebalance', protocolData: '', members: [{ memberMetadata: new Uint8Array(), memberAssignment: new Uint8Array() }] });
    await test.coordinator.syncGroup(syncRequest(leader!.memberId, 1, { assignments: [{ memberId: leader!.memberId, assignment: assignment([4]) }] }));
    expect(test.coordinator.describeGroups([GROUP_ID, 'unknown'])).toEqual([
      {
        groupId: GROUP_ID,
        errorCode: 0,
        groupState: 'Stable',
        protocolType: 'consumer',
        protocolData: 'range',
        members: [{ memberId: leader!.memberId, groupInstanceId: null, clientId: 'c1', clientHost: '/10.0.0.1', memberMetadata: joinRequest().protocols[0]!.metadata, memberAssignment: assignment([4]) }],
      },
      { groupId: 'unknown', errorCode: 0, groupState: 'Dead', protocolType: '', protocolData: '', members: [] },
    ]);
  });

  it('lists groups, filtered by state', async () => {
    const test = testCoordinator();
    await stableGroup(test, [null]);
    await test.coordinator.commitOffsets(commitRequest('', -1, [0], { groupId: 'simple' }));
    expect(test.coordinator.listGroups(null)).toEqual([
      { groupId: GROUP_ID, protocolType: 'consumer', groupState: 'Stable' },
      { groupId: 'simple', protocolType: '', groupState: 'Empty' },
    ]);
    expect(test.coordinator.listGroups(['Stable', 'PreparingRebalance']).map((listing) => listing.groupId)).toEqual([GROUP_ID]);
  });
});
