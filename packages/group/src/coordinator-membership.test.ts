import { ErrorCode, RivuletError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import {
  GROUP_ID,
  assignment,
  commitRequest,
  heartbeatRequest,
  joinRequest,
  settle,
  stableGroup,
  subscription,
  syncRequest,
  testCoordinator,
} from './test-helpers.js';
import type { TestCoordinator } from './test-helpers.js';
import type { JoinGroupResult } from './types.js';

/** A promise's outcome so far, without waiting for it. */
function peek<T>(promise: Promise<T>): { settled: boolean; value: T | undefined } {
  const state: { settled: boolean; value: T | undefined } = { settled: false, value: undefined };
  void promise.then((value) => {
    state.settled = true;
    state.value = value;
  });
  return state;
}

function describeGroup(test: TestCoordinator) {
  return test.coordinator.describeGroups([GROUP_ID])[0]!;
}

describe('JoinGroup', () => {
  it('forms generation 1 of three members: the leader gets everyone, followers nothing', async () => {
    const test = testCoordinator();
    const joins = [0, 1, 2].map((index) => test.coordinator.joinGroup(joinRequest({ clientId: `c${index}`, protocols: [{ name: 'range', metadata: subscription([`t${index}`]) }] })));
    expect(describeGroup(test).groupState).toBe('PreparingRebalance');
    test.scheduler.advance(0);
    const results = await Promise.all(joins);

    const leaderId = results[0]!.memberId;
    for (const [index, result] of results.entries()) {
      expect(result).toMatchObject({ errorCode: 0, generationId: 1, protocolType: 'consumer', protocolName: 'range', leader: leaderId, skipAssignment: false });
      expect(result.memberId).toMatch(new RegExp(`^c${index}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`));
    }
    expect(results[0]!.members.map((member) => member.memberId)).toEqual(results.map((result) => result.memberId));
    expect(results[0]!.members[2]!.metadata).toEqual(subscription(['t2']));
    expect(results[1]!.members).toEqual([]);
    expect(results[2]!.members).toEqual([]);
    expect(describeGroup(test).groupState).toBe('CompletingRebalance');
    expect(test.logger.messages('info')).toContain('rebalance completed: waiting for the leader to assign');
  });

  it('chooses the protocol every member supports with the most first-choice votes', async () => {
    const test = testCoordinator();
    const protocols = (...names: string[]) => names.map((name) => ({ name, metadata: new Uint8Array([1]) }));
    const joins = [
      test.coordinator.joinGroup(joinRequest({ protocols: protocols('range', 'sticky', 'roundrobin') })),
      test.coordinator.joinGroup(joinRequest({ protocols: protocols('sticky', 'range') })),
      test.coordinator.joinGroup(joinRequest({ protocols: protocols('sticky', 'range', 'roundrobin') })),
    ];
    test.scheduler.advance(0);
    expect((await Promise.all(joins)).map((result) => result.protocolName)).toEqual(['sticky', 'sticky', 'sticky']);
  });

  it('answers MEMBER_ID_REQUIRED with an id first, then admits the member rejoining with it', async () => {
    const test = testCoordinator();
    const first = await test.coordinator.joinGroup(joinRequest({ requireKnownMemberId: true }));
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.memberId).toMatch(/^client-/);
    expect(describeGroup(test).members).toEqual([]);

    const rejoin = test.coordinator.joinGroup(joinRequest({ memberId: first.memberId, requireKnownMemberId: true }));
    test.scheduler.advance(0);
    expect(await rejoin).toMatchObject({ errorCode: 0, memberId: first.memberId, leader: first.memberId, generationId: 1 });
  });

  it('forgets an id handed out with MEMBER_ID_REQUIRED that is not used within the session timeout', async () => {
    const test = testCoordinator();
    const first = await test.coordinator.joinGroup(joinRequest({ requireKnownMemberId: true, sessionTimeoutMs: 5_000 }));
    test.scheduler.advance(5_000);
    expect((await test.coordinator.joinGroup(joinRequest({ memberId: first.memberId }))).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('waits for a member that got MEMBER_ID_REQUIRED before completing a rebalance', async () => {
    const test = testCoordinator();
    const [a] = await stableGroup(test, [null]);
    const pending = await test.coordinator.joinGroup(joinRequest({ requireKnownMemberId: true }));
    const rejoinA = peek(test.coordinator.joinGroup(joinRequest({ memberId: a!.memberId })));
    await settle();
    expect(rejoinA.settled).toBe(false);
    const joinNew = test.coordinator.joinGroup(joinRequest({ memberId: pending.memberId }));
    await settle();
    expect(rejoinA.value).toMatchObject({ errorCode: 0, generationId: 2 });
    expect((await joinNew).generationId).toBe(2);
  });

  it('waits the initial delay for more members, extending it while they arrive, up to the rebalance timeout', async () => {
    const test = testCoordinator({ config: { initialRebalanceDelayMs: 3_000 } });
    const first = peek(test.coordinator.joinGroup(joinRequest({ rebalanceTimeoutMs: 10_000 })));
    test.scheduler.advance(2_000);
    const second = peek(test.coordinator.joinGroup(joinRequest({ rebalanceTimeoutMs: 10_000 })));
    test.scheduler.advance(1_000); // 3 s: a member arrived during the first delay, so it is extended
    await settle();
    expect(first.settled).toBe(false);
    test.scheduler.advance(2_999);
    await settle();
    expect(first.settled).toBe(false);
    test.scheduler.advance(1); // 6 s: nobody came during the second delay
    await settle();
    expect(first.value).toMatchObject({ generationId: 1 });
    expect(first.value!.members).toHaveLength(2);
    expect(second.value).toMatchObject({ generationId: 1 });
  });

  it('ends the initial delay at the rebalance timeout even while members keep arriving', async () => {
    const test = testCoordinator({ config: { initialRebalanceDelayMs: 3_000 } });
    const first = peek(test.coordinator.joinGroup(joinRequest({ rebalanceTimeoutMs: 10_000 })));
    for (let elapsedMs = 0; elapsedMs < 9_000; elapsedMs += 1_000) {
      test.scheduler.advance(1_000);
      void test.coordinator.joinGroup(joinRequest({ rebalanceTimeoutMs: 10_000 }));
      await settle();
      expect(first.settled).toBe(false);
    }
    test.scheduler.advance(1_000);
    await settle();
    expect(first.value!.members).toHaveLength(10);
  });

  it('rebalances a Stable group when a new member joins; the others learn it from heartbeats and rejoin', async () => {
    const test = testCoordinator();
    const [a, b] = await stableGroup(test, [null, null]);
    const joinC = test.coordinator.joinGroup(joinRequest({ clientId: 'c' }));
    expect(describeGroup(test).groupState).toBe('PreparingRebalance');
    expect(test.coordinator.heartbeat(heartbeatRequest(b!.memberId, 1)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const rejoinA = test.coordinator.joinGroup(joinRequest({ memberId: a!.memberId }));
    const rejoinB = test.coordinator.joinGroup(joinRequest({ memberId: b!.memberId }));
    const results = await Promise.all([rejoinA, rejoinB, joinC]);
    expect(results.map((result) => result.generationId)).toEqual([2, 2, 2]);
    expect(results[0]!.members).toHaveLength(3);
  });

  it('answers an unchanged follower in a Stable group at once, without a rebalance', async () => {
    const test = testCoordinator();
    const [, b] = await stableGroup(test, [null, null]);
    const result = await test.coordinator.joinGroup(joinRequest({ memberId: b!.memberId }));
    expect(result).toMatchObject({ errorCode: 0, generationId: 1, members: [] });
    expect(describeGroup(test).groupState).toBe('Stable');
  });

  it.each<[string, Partial<Parameters<typeof joinRequest>[0]>, number]>([
    ['an empty group id', { groupId: '' }, ErrorCode.INVALID_GROUP_ID],
    ['a session timeout below the minimum', { sessionTimeoutMs: 999 }, ErrorCode.INVALID_SESSION_TIMEOUT],
    ['a session timeout above the maximum', { sessionTimeoutMs: 60_001 }, ErrorCode.INVALID_SESSION_TIMEOUT],
    ['another protocol type', { protocolType: 'connect' }, ErrorCode.INCONSISTENT_GROUP_PROTOCOL],
    ['no protocol in common', { protocols: [{ name: 'roundrobin', metadata: new Uint8Array() }] }, ErrorCode.INCONSISTENT_GROUP_PROTOCOL],
    ['no protocols at all', { protocols: [] }, ErrorCode.INCONSISTENT_GROUP_PROTOCOL],
    ['an unknown member id', { memberId: 'nobody' }, ErrorCode.UNKNOWN_MEMBER_ID],
    ['oversized metadata', { protocols: [{ name: 'range', metadata: new Uint8Array(1_001) }] }, ErrorCode.INVALID_REQUEST],
    ['a negative rebalance timeout', { rebalanceTimeoutMs: -1 }, ErrorCode.INVALID_REQUEST],
  ])('refuses %s and changes nothing', async (_what, overrides, errorCode) => {
    const test = testCoordinator();
    await stableGroup(test, [null, null]);
    await test.coordinator.commitOffsets(commitRequest('', -1, [0]));
    const before = { described: describeGroup(test), fetched: test.coordinator.fetchOffsets({ groupId: GROUP_ID, topics: null, requireStable: false }), appends: test.log.appendCount, timers: test.scheduler.pendingTaskCount };
    const result = await test.coordinator.joinGroup(joinRequest(overrides));
    expect(result.errorCode).toBe(errorCode);
    if (errorCode === ErrorCode.INVALID_REQUEST) expect(result.errorMessage).toMatch(/bytes|timeout/);
    expect({ described: describeGroup(test), fetched: test.coordinator.fetchOffsets({ groupId: GROUP_ID, topics: null, requireStable: false }), appends: test.log.appendCount, timers: test.scheduler.pendingTaskCount }).toEqual(before);
  });

  it('refuses a member beyond the maximum group size, leaving the group as it was', async () => {
    const test = testCoordinator({ config: { maxGroupSize: 2 } });
    await stableGroup(test, [null, null]);
    const before = describeGroup(test);
    expect((await test.coordinator.joinGroup(joinRequest())).errorCode).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED);
    expect((await test.coordinator.joinGroup(joinRequest({ requireKnownMemberId: true }))).errorCode).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED);
    expect(describeGroup(test)).toEqual(before);
  });

  it('answers a JoinGroup superseded by a newer one from the same member, so each is answered once', async () => {
    const test = testCoordinator();
    const [a, b] = await stableGroup(test, [null, null]);
    const firstRejoin = test.coordinator.joinGroup(joinRequest({ memberId: a!.memberId }));
    const secondRejoin = test.coordinator.joinGroup(joinRequest({ memberId: a!.memberId }));
    expect((await firstRejoin).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    void test.coordinator.joinGroup(joinRequest({ memberId: b!.memberId }));
    expect((await secondRejoin).generationId).toBe(2);
  });
});

describe('rebalances', () => {
  it('rebalances when a member leaves', async () => {
    const test = testCoordinator();
    const [a, b] = await stableGroup(test, [null, null]);
    const left = await test.coordinator.leaveGroup({ groupId: GROUP_ID, members: [{ memberId: b!.memberId, groupInstanceId: null, reason: 'closing' }] });
    expect(left).toEqual({ errorCode: 0, errorMessage: null, members: [{ memberId: b!.memberId, groupInstanceId: null, errorCode: 0 }] });
    expect(describeGroup(test).groupState).toBe('PreparingRebalance');
    const rejoin = await test.coordinator.joinGroup(joinRequest({ memberId: a!.memberId }));
    expect(rejoin).toMatchObject({ generationId: 2, leader: a!.memberId });
    expect(rejoin.members).toHaveLength(1);
  });

  it('makes the group Empty, at a new generation, written to the log, when its last member leaves', async () => {
    const test = testCoordinator();
    const [a] = await stableGroup(test, [null]);
    const appendsBefore = test.log.appendCount;
    await test.coordinator.leaveGroup({ groupId: GROUP_ID, members: [{ memberId: a!.memberId, groupInstanceId: null, reason: null }] });
    expect(describeGroup(test)).toMatchObject({ groupState: 'Empty', members: [] });
    expect(test.log.appendCount).toBe(appendsBefore + 1);
    expect(test.coordinator.listGroups(['Empty'])).toEqual([{ groupId: GROUP_ID, protocolType: 'consumer', groupState: 'Empty' }]);
  });

  it('removes a member whose session expires and rebalances the others', async () => {
    const test = testCoordinator();
    const [a, b] = await stableGroup(test, [null, null]);
    for (let elapsedMs = 3_000; elapsedMs <= 9_000; elapsedMs += 3_000) {
      test.scheduler.advance(3_000);
      expect(test.coordinator.heartbeat(heartbeatRequest(a!.memberId, 1)).errorCode).toBe(0);
    }
    expect(describeGroup(test).members).toHaveLength(2);
    test.scheduler.advance(1_000); // b sent nothing for 10 s, its session
    expect(describeGroup(test).members.map((member) => member.memberId)).toEqual([a!.memberId]);
    expect(test.coordinator.heartbeat(heartbeatRequest(a!.memberId, 1)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(test.coordinator.heartbeat(heartbeatRequest(b!.memberId, 1)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(test.logger.entries.some((entry) => entry.message === 'member removed from group' && (entry.fields as { reason: string }).reason === 'its session timed out')).toBe(true);
  });

  it('keeps a member whose join is parked past its session, and removes the laggard at the rebalance timeout', async () => {
    const test = testCoordinator();
    const [a, b] = await stableGroup(test, [null, null]);
    const rejoinA = peek(test.coordinator.joinGroup(joinRequest({ memberId: a!.memberId, sessionTimeoutMs: 5_000, rebalanceTimeoutMs: 30_000 })));
    for (let elapsedMs = 4_000; elapsedMs <= 28_000; elapsedMs += 4_000) {
      test.scheduler.advance(4_000);
      expect(test.coordinator.heartbeat(heartbeatRequest(b!.memberId, 1)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    }
    await settle();
    expect(rejoinA.settled).toBe(false);
    test.scheduler.advance(2_000); // the rebalance timeout (30 s) passes: b never rejoined
    await settle();
    expect(rejoinA.value).toMatchObject({ errorCode: 0, generationId: 2 });
    expect(rejoinA.value!.members.map((member) => member.memberId)).toEqual([a!.memberId]);
    expect(test.coordinator.heartbeat(heartbeatRequest(b!.memberId, 2)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('makes a follower the leader when the leader is removed', async () => {
    const test = testCoordinator();
    const [a, b] = await stableGroup(test, [null, null]);
    await test.coordinator.leaveGroup({ groupId: GROUP_ID, members: [{ memberId: a!.memberId, groupInstanceId: null, reason: null }] });
    expect(await test.coordinator.joinGroup(joinRequest({ memberId: b!.memberId }))).toMatchObject({ leader: b!.memberId, generationId: 2 });
  });

  it('removes a member that joined a generation but never synced, once the rebalance timeout passes', async () => {
    const test = testCoordinator();
    const joins = [test.coordinator.joinGroup(joinRequest({ rebalanceTimeoutMs: 20_000 })), test.coordinator.joinGroup(joinRequest({ rebalanceTimeoutMs: 20_000 }))];
    test.scheduler.advance(0);
    const [leader, follower] = await Promise.all(joins);
    await test.coordinator.syncGroup(syncRequest(leader!.memberId, 1, { assignments: [{ memberId: leader!.memberId, assignment: assignment([0]) }] }));
    for (let elapsedMs = 0; elapsedMs < 20_000; elapsedMs += 5_000) {
      test.scheduler.advance(5_000);
      test.coordinator.heartbeat(heartbeatRequest(leader!.memberId, 1));
      test.coordinator.heartbeat(heartbeatRequest(follower!.memberId, 1));
    }
    expect(describeGroup(test).members.map((member) => member.memberId)).toEqual([leader!.memberId]);
  });
});

describe('SyncGroup', () => {
  async function joinedGroup(test: TestCoordinator): Promise<JoinGroupResult[]> {
    const joins = [0, 1, 2].map(() => test.coordinator.joinGroup(joinRequest()));
    test.scheduler.advance(0);
    return Promise.all(joins);
  }

  it('parks followers until the leader syncs, and answers everyone only once the assignment is written', async () => {
    const test = testCoordinator();
    const [leader, follower1, follower2] = await joinedGroup(test);
    const followerSync = peek(test.coordinator.syncGroup(syncRequest(follower1!.memberId, 1)));
    await settle();
    expect(followerSync.settled).toBe(false);

    test.log.holdAppends();
    const assignments = [leader!, follower1!, follower2!].map((member, partition) => ({ memberId: member.memberId, assignment: assignment([partition]) }));
    const leaderSync = peek(test.coordinator.syncGroup(syncRequest(leader!.memberId, 1, { assignments })));
    await settle();
    expect(test.log.heldCount).toBe(1);
    expect(leaderSync.settled).toBe(false);
    expect(followerSync.settled).toBe(false);
    expect(describeGroup(test).groupState).toBe('CompletingRebalance');

    test.log.release();
    await settle();
    expect(leaderSync.value).toMatchObject({ errorCode: 0, protocolType: 'consumer', protocolName: 'range', assignment: assignment([0]) });
    expect(followerSync.value).toMatchObject({ errorCode: 0, assignment: assignment([1]) });
    expect(describeGroup(test).groupState).toBe('Stable');
    // The late follower is answered at once.
    expect(await test.coordinator.syncGroup(syncRequest(follower2!.memberId, 1))).toMatchObject({ errorCode: 0, assignment: assignment([2]) });
    expect(describeGroup(test).members.map((member) => member.memberAssignment)).toEqual([assignment([0]), assignment([1]), assignment([2])]);
  });

  it('answers the append error (leadership errors as NOT_COORDINATOR) and restarts the rebalance when the assignment cannot be written', async () => {
    const test = testCoordinator();
    const [leader, follower] = await joinedGroup(test);
    const followerSync = test.coordinator.syncGroup(syncRequest(follower!.memberId, 1));
    test.log.failAppends(new RivuletError('NOT_LEADER_OR_FOLLOWER'));
    const leaderSync = test.coordinator.syncGroup(syncRequest(leader!.memberId, 1, { assignments: [{ memberId: follower!.memberId, assignment: assignment([0]) }] }));
    expect((await leaderSync).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect((await followerSync).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(describeGroup(test).groupState).toBe('PreparingRebalance');
    expect(describeGroup(test).members.every((member) => member.memberAssignment.length === 0)).toBe(true);
  });

  it('tells a timed-out assignment write as REBALANCE_IN_PROGRESS, which a consumer answers by rejoining', async () => {
    const test = testCoordinator();
    const [leader] = await joinedGroup(test);
    test.log.failAppends(new RivuletError('REQUEST_TIMED_OUT'));
    expect((await test.coordinator.syncGroup(syncRequest(leader!.memberId, 1))).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it('answers parked syncs REBALANCE_IN_PROGRESS when a member joins during the sync, and ignores the late write', async () => {
    const test = testCoordinator();
    const [leader, follower] = await joinedGroup(test);
    test.log.holdAppends();
    const followerSync = test.coordinator.syncGroup(syncRequest(follower!.memberId, 1));
    const leaderSync = test.coordinator.syncGroup(syncRequest(leader!.memberId, 1));
    void test.coordinator.joinGroup(joinRequest());
    expect((await followerSync).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect((await leaderSync).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    test.log.release();
    await settle();
    expect(describeGroup(test).groupState).toBe('PreparingRebalance');
  });

  it.each<[string, (members: JoinGroupResult[]) => Parameters<typeof syncRequest>, number]>([
    ['a stale generation', ([leader]) => [leader!.memberId, 0], ErrorCode.ILLEGAL_GENERATION],
    ['an unknown member', () => ['nobody', 1], ErrorCode.UNKNOWN_MEMBER_ID],
    ['another protocol type', ([leader]) => [leader!.memberId, 1, { protocolType: 'connect' }], ErrorCode.INCONSISTENT_GROUP_PROTOCOL],
    ['another protocol name', ([leader]) => [leader!.memberId, 1, { protocolName: 'sticky' }], ErrorCode.INCONSISTENT_GROUP_PROTOCOL],
    ['an oversized assignment', ([leader]) => [leader!.memberId, 1, { assignments: [{ memberId: leader!.memberId, assignment: new Uint8Array(1_001) }] }], ErrorCode.INVALID_REQUEST],
    ['an empty group id', ([leader]) => [leader!.memberId, 1, { groupId: '' }], ErrorCode.INVALID_GROUP_ID],
  ])('refuses %s and changes nothing', async (_what, request, errorCode) => {
    const test = testCoordinator();
    const members = await joinedGroup(test);
    const before = describeGroup(test);
    expect((await test.coordinator.syncGroup(syncRequest(...request(members)))).errorCode).toBe(errorCode);
    expect(describeGroup(test)).toEqual(before);
    expect(test.log.appendCount).toBe(0);
  });

  it('answers REBALANCE_IN_PROGRESS during PreparingRebalance', async () => {
    const test = testCoordinator();
    const [a] = await stableGroup(test, [null, null]);
    void test.coordinator.joinGroup(joinRequest());
    expect((await test.coordinator.syncGroup(syncRequest(a!.memberId, 1))).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });
});

describe('Heartbeat', () => {
  it('answers each error of Kafka, in its order', async () => {
    const test = testCoordinator();
    const [a] = await stableGroup(test, [null]);
    expect(test.coordinator.heartbeat(heartbeatRequest(a!.memberId, 1)).errorCode).toBe(0);
    const before = { described: describeGroup(test), listed: test.coordinator.listGroups(null) };
    expect(test.coordinator.heartbeat(heartbeatRequest(a!.memberId, 1, { groupId: '' })).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect(test.coordinator.heartbeat(heartbeatRequest(a!.memberId, 1, { groupId: 'other' })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(test.coordinator.heartbeat(heartbeatRequest('nobody', 1)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(test.coordinator.heartbeat(heartbeatRequest(a!.memberId, 0)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect({ described: describeGroup(test), listed: test.coordinator.listGroups(null) }).toEqual(before);
    void test.coordinator.joinGroup(joinRequest());
    expect(test.coordinator.heartbeat(heartbeatRequest(a!.memberId, 1)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it('answers NOT_COORDINATOR for a partition not loaded here, COORDINATOR_LOAD_IN_PROGRESS while it loads', () => {
    const test = testCoordinator({ loaded: false });
    expect(test.coordinator.heartbeat(heartbeatRequest('m', 1)).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    test.coordinator.beginLoading(0, 1);
    expect(test.coordinator.heartbeat(heartbeatRequest('m', 1)).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  });
});

describe('heartbeatUntilRebalance (the waiting heartbeat of the gRPC client API)', () => {
  it('is answered REBALANCE_IN_PROGRESS the moment another member joins, not at the end of its wait', async () => {
    const test = testCoordinator();
    const [a] = await stableGroup(test, [null]);
    const waiting = peek(test.coordinator.heartbeatUntilRebalance(heartbeatRequest(a!.memberId, 1), 3_000));
    await settle();
    expect(waiting.settled).toBe(false);
    void test.coordinator.joinGroup(joinRequest({ clientId: 'newcomer' }));
    await settle();
    expect(waiting.value).toEqual({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, errorMessage: null });
  });

  it('is answered NONE when its wait ends, which counts as a heartbeat, and waits at most half the session', async () => {
    const test = testCoordinator();
    const [a] = await stableGroup(test, [null]); // session 10 s
    const waiting = peek(test.coordinator.heartbeatUntilRebalance(heartbeatRequest(a!.memberId, 1), 60_000));
    test.scheduler.advance(4_999);
    await settle();
    expect(waiting.settled).toBe(false);
    test.scheduler.advance(1);
    await settle();
    expect(waiting.value!.errorCode).toBe(0);
    // The session restarted when the wait ended: 9.9 s later the member is still there.
    test.scheduler.advance(9_900);
    expect(describeGroup(test).members.map((m) => m.memberId)).toEqual([a!.memberId]);
  });

  it('answers at once what a plain heartbeat would, when that is an error', async () => {
    const test = testCoordinator();
    const [a] = await stableGroup(test, [null]);
    expect((await test.coordinator.heartbeatUntilRebalance(heartbeatRequest(a!.memberId, 0), 3_000)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await test.coordinator.heartbeatUntilRebalance(heartbeatRequest('nobody', 1), 3_000)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('drops a wait whose caller went away without counting it as a sign of life, so the session still expires', async () => {
    const test = testCoordinator();
    const [a] = await stableGroup(test, [null]);
    test.scheduler.advance(4_000);
    const caller = new AbortController();
    const waiting = peek(test.coordinator.heartbeatUntilRebalance(heartbeatRequest(a!.memberId, 1), 3_000, caller.signal)); // session restarts now
    caller.abort();
    await settle();
    expect(waiting.settled).toBe(true);
    test.scheduler.advance(10_000);
    expect(describeGroup(test).members).toEqual([]);
  });

  it('is answered NOT_COORDINATOR when the partition is unloaded', async () => {
    const test = testCoordinator();
    const [a] = await stableGroup(test, [null]);
    const waiting = test.coordinator.heartbeatUntilRebalance(heartbeatRequest(a!.memberId, 1), 3_000);
    test.coordinator.unload(0);
    expect((await waiting).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });
});

describe('static membership (KIP-345)', () => {
  it('lets a restarted static follower take a new member id without a rebalance, and fences the old id', async () => {
    const test = testCoordinator();
    const [leader, follower] = await stableGroup(test, ['instance-a', 'instance-b']);
    test.log.holdAppends();
    const restart = peek(test.coordinator.joinGroup(joinRequest({ groupInstanceId: 'instance-b', clientId: 'restarted' })));
    await settle();
    expect(restart.settled).toBe(false); // answered only once the new member id is written
    test.log.release();
    await settle();
    expect(restart.value).toMatchObject({ errorCode: 0, generationId: 1, leader: leader!.memberId, skipAssignment: false, members: [] });
    const newMemberId = restart.value!.memberId;
    expect(newMemberId).toMatch(/^restarted-/);
    expect(describeGroup(test).groupState).toBe('Stable');

    expect(test.coordinator.heartbeat(heartbeatRequest(follower!.memberId, 1, { groupInstanceId: 'instance-b' })).errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect((await test.coordinator.syncGroup(syncRequest(follower!.memberId, 1, { groupInstanceId: 'instance-b' }))).errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect((await test.coordinator.commitOffsets(commitRequest(follower!.memberId, 1, [1], { groupInstanceId: 'instance-b' }))).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    // The new id keeps the old one's assignment.
    expect(await test.coordinator.syncGroup(syncRequest(newMemberId, 1, { groupInstanceId: 'instance-b' }))).toMatchObject({ errorCode: 0, assignment: assignment([1]) });
    expect(test.coordinator.heartbeat(heartbeatRequest(newMemberId, 1, { groupInstanceId: 'instance-b' })).errorCode).toBe(0);
    const left = await test.coordinator.leaveGroup({ groupId: GROUP_ID, members: [{ memberId: follower!.memberId, groupInstanceId: 'instance-b', reason: null }] });
    expect(left.members[0]!.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
  });

  it('tells a restarted static leader to skip the assignment (KIP-814), giving it the members', async () => {
    const test = testCoordinator();
    await stableGroup(test, ['instance-a', 'instance-b']);
    const restart = await test.coordinator.joinGroup(joinRequest({ groupInstanceId: 'instance-a' }));
    expect(restart).toMatchObject({ errorCode: 0, generationId: 1, leader: restart.memberId, skipAssignment: true });
    expect(restart.members).toHaveLength(2);
    expect(describeGroup(test).groupState).toBe('Stable');
  });

  it('rebalances when a static member restarts with other protocols', async () => {
    const test = testCoordinator();
    await stableGroup(test, ['instance-a', 'instance-b']);
    void test.coordinator.joinGroup(joinRequest({ groupInstanceId: 'instance-b', protocols: [{ name: 'range', metadata: subscription(['other']) }] }));
    expect(describeGroup(test).groupState).toBe('PreparingRebalance');
  });

  it('undoes the replacement when it cannot be written: the old id is the member again', async () => {
    const test = testCoordinator();
    const [, follower] = await stableGroup(test, ['instance-a', 'instance-b']);
    test.log.failAppends(new RivuletError('NOT_ENOUGH_REPLICAS'));
    const restart = await test.coordinator.joinGroup(joinRequest({ groupInstanceId: 'instance-b' }));
    expect(restart.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    test.log.failAppends(null);
    expect(test.coordinator.heartbeat(heartbeatRequest(follower!.memberId, 1, { groupInstanceId: 'instance-b' })).errorCode).toBe(0);
    expect(describeGroup(test).members.map((member) => member.memberId)).toContain(follower!.memberId);
  });

  it('still removes a static member whose session expires', async () => {
    const test = testCoordinator();
    const [a] = await stableGroup(test, ['instance-a', 'instance-b']);
    for (let elapsedMs = 0; elapsedMs <= 10_000; elapsedMs += 2_500) {
      test.scheduler.advance(2_500);
      test.coordinator.heartbeat(heartbeatRequest(a!.memberId, 1, { groupInstanceId: 'instance-a' }));
    }
    expect(describeGroup(test).members.map((member) => member.groupInstanceId)).toEqual(['instance-a']);
  });

  it('lets an administrator remove a static member by its instance id alone', async () => {
    const test = testCoordinator();
    await stableGroup(test, ['instance-a', 'instance-b']);
    const left = await test.coordinator.leaveGroup({
      groupId: GROUP_ID,
      members: [
        { memberId: '', groupInstanceId: 'instance-b', reason: 'admin' },
        { memberId: '', groupInstanceId: 'instance-z', reason: 'admin' },
      ],
    });
    expect(left.members.map((member) => member.errorCode)).toEqual([0, ErrorCode.UNKNOWN_MEMBER_ID]);
    expect(describeGroup(test).members.map((member) => member.groupInstanceId)).toEqual(['instance-a']);
  });
});

describe('LeaveGroup', () => {
  it('answers per member, and UNKNOWN_MEMBER_ID for every member of an unknown group', async () => {
    const test = testCoordinator();
    const [a] = await stableGroup(test, [null, null]);
    const left = await test.coordinator.leaveGroup({
      groupId: GROUP_ID,
      members: [
        { memberId: a!.memberId, groupInstanceId: null, reason: null },
        { memberId: 'nobody', groupInstanceId: null, reason: null },
      ],
    });
    expect(left.members.map((member) => member.errorCode)).toEqual([0, ErrorCode.UNKNOWN_MEMBER_ID]);
    const unknown = await test.coordinator.leaveGroup({ groupId: 'other', members: [{ memberId: 'x', groupInstanceId: null, reason: null }] });
    expect(unknown).toEqual({ errorCode: 0, errorMessage: null, members: [{ memberId: 'x', groupInstanceId: null, errorCode: ErrorCode.UNKNOWN_MEMBER_ID }] });
  });

  it('answers a leaving member’s parked join UNKNOWN_MEMBER_ID', async () => {
    const test = testCoordinator();
    const [a, b] = await stableGroup(test, [null, null]);
    const rejoin = test.coordinator.joinGroup(joinRequest({ memberId: b!.memberId, protocols: [{ name: 'range', metadata: subscription(['other']) }] }));
    await test.coordinator.leaveGroup({ groupId: GROUP_ID, members: [{ memberId: b!.memberId, groupInstanceId: null, reason: null }] });
    expect((await rejoin).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await test.coordinator.joinGroup(joinRequest({ memberId: a!.memberId }))).members).toHaveLength(1);
  });
});
