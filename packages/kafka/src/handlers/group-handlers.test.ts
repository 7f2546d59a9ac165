import { ErrorCode, RivuletError } from '@rivulet/common';
import type { JoinGroupRequest, JoinGroupResult, LeaveGroupRequest, SyncGroupRequest, SyncGroupResult } from '@rivulet/broker';
import { describe, expect, it } from 'vitest';
import { ApiKey } from '../schema/api-table.js';
import { FakeGroups, callApi, fakeContext } from '../testing/group-harness.js';
import { handleJoinGroup } from './group-handlers.js';

const metadata = Buffer.from('subscription');
const assignment = Buffer.from('assignment');

function joined(overrides: Partial<JoinGroupResult> = {}): JoinGroupResult {
  return {
    errorCode: 0,
    errorMessage: null,
    generationId: 3,
    protocolType: 'consumer',
    protocolName: 'range',
    leader: 'member-1',
    skipAssignment: false,
    memberId: 'member-1',
    members: [{ memberId: 'member-1', groupInstanceId: 'instance-1', metadata }],
    ...overrides,
  };
}

function joinRequest(overrides: Record<string, unknown> = {}) {
  return {
    groupId: 'g',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 60_000,
    memberId: '',
    groupInstanceId: 'instance-1',
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata }],
    reason: 'rejoin after assignment change',
    ...overrides,
  };
}

describe('JoinGroup', () => {
  it('v0: the session timeout serves as rebalance timeout; no instance id, no known-member-id step, no reason', async () => {
    const groups = new FakeGroups({ joinGroup: () => Promise.resolve(joined({ protocolName: null })) });
    const response = await callApi(ApiKey.JoinGroup, 0, joinRequest(), fakeContext(groups));
    const [asked] = groups.argumentsOf('joinGroup') as JoinGroupRequest[];
    expect(asked).toMatchObject({
      groupId: 'g',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      requireKnownMemberId: false,
      reason: null,
      clientId: 'client-a',
      clientHost: '/10.0.0.7',
    });
    expect(asked!.protocols).toEqual([{ name: 'range', metadata }]);
    // Before v7 the protocol name is not nullable: none is ''.
    expect(response).toMatchObject({ errorCode: 0, generationId: 3, protocolName: '', leader: 'member-1', memberId: 'member-1', protocolType: null, skipAssignment: false });
    expect(response.members).toEqual([{ memberId: 'member-1', groupInstanceId: null, metadata }]);
  });

  it('copies protocol metadata out of the request frame, since the coordinator keeps it', async () => {
    const groups = new FakeGroups({ joinGroup: () => Promise.resolve(joined()) });
    const frame = Buffer.from('xxsubscriptionxx');
    const view = frame.subarray(2, 14);
    await handleJoinGroup({ ...joinRequest(), protocols: [{ name: 'range', metadata: view }] }, 9, fakeContext(groups));
    const [asked] = groups.argumentsOf('joinGroup') as JoinGroupRequest[];
    frame.fill(0); // The connection reuses or drops the frame once the request is decoded.
    expect(Buffer.from(asked!.protocols[0]!.metadata).toString()).toBe('subscription');
  });

  it('v1-3 send the rebalance timeout; v4 requires a known member id (KIP-394)', async () => {
    const groups = new FakeGroups({ joinGroup: () => Promise.resolve(joined()) });
    await callApi(ApiKey.JoinGroup, 3, joinRequest(), fakeContext(groups));
    await callApi(ApiKey.JoinGroup, 4, joinRequest(), fakeContext(groups));
    const [v3, v4] = groups.argumentsOf('joinGroup') as JoinGroupRequest[];
    expect(v3).toMatchObject({ rebalanceTimeoutMs: 60_000, requireKnownMemberId: false, groupInstanceId: null });
    expect(v4).toMatchObject({ rebalanceTimeoutMs: 60_000, requireKnownMemberId: true, groupInstanceId: null });
  });

  it('v5 (KafkaJS, librdkafka): static membership both ways; MEMBER_ID_REQUIRED passes with the new id', async () => {
    const groups = new FakeGroups({ joinGroup: () => Promise.resolve(joined({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, memberId: 'member-9', generationId: -1, members: [], leader: '', protocolName: null })) });
    const response = await callApi(ApiKey.JoinGroup, 5, joinRequest(), fakeContext(groups));
    expect(groups.argumentsOf('joinGroup')[0]).toMatchObject({ groupInstanceId: 'instance-1', requireKnownMemberId: true, reason: null });
    expect(response).toMatchObject({ throttleTimeMs: 0, errorCode: ErrorCode.MEMBER_ID_REQUIRED, memberId: 'member-9', generationId: -1, protocolName: '' });
    const members = await callApi(ApiKey.JoinGroup, 5, joinRequest(), fakeContext(new FakeGroups({ joinGroup: () => Promise.resolve(joined()) })));
    expect(members.members).toEqual([{ memberId: 'member-1', groupInstanceId: 'instance-1', metadata }]);
  });

  it('v7 answers the protocol type, and an unset protocol name as null', async () => {
    const groups = new FakeGroups({ joinGroup: () => Promise.resolve(joined({ protocolName: '' })) });
    const response = await callApi(ApiKey.JoinGroup, 7, joinRequest(), fakeContext(groups));
    expect(response).toMatchObject({ protocolType: 'consumer', protocolName: null });
  });

  it('v9 (@platformatic/kafka): reason in, skip-assignment out', async () => {
    const groups = new FakeGroups({ joinGroup: () => Promise.resolve(joined({ skipAssignment: true })) });
    const response = await callApi(ApiKey.JoinGroup, 9, joinRequest(), fakeContext(groups));
    expect(groups.argumentsOf('joinGroup')[0]).toMatchObject({ reason: 'rejoin after assignment change', groupInstanceId: 'instance-1', requireKnownMemberId: true });
    expect(response).toMatchObject({ errorCode: 0, protocolType: 'consumer', protocolName: 'range', skipAssignment: true, leader: 'member-1' });
  });

  it('an empty group id is INVALID_GROUP_ID without asking the coordinator', async () => {
    const groups = new FakeGroups({});
    const response = await callApi(ApiKey.JoinGroup, 5, joinRequest({ groupId: '', memberId: 'm' }), fakeContext(groups));
    expect(response).toMatchObject({ errorCode: ErrorCode.INVALID_GROUP_ID, memberId: 'm', generationId: -1, protocolName: '' });
    expect(groups.calls).toEqual([]);
  });

  it('a rejected join answers the error as Kafka maps it; a failure that is not a RivuletError propagates', async () => {
    const rejecting = new FakeGroups({ joinGroup: () => Promise.reject(new RivuletError('NOT_LEADER_OR_FOLLOWER')) });
    const response = await callApi(ApiKey.JoinGroup, 9, joinRequest(), fakeContext(rejecting));
    expect(response).toMatchObject({ errorCode: ErrorCode.NOT_COORDINATOR, protocolName: null, members: [] });
    const unavailable = new FakeGroups({ joinGroup: () => Promise.reject(new RivuletError('COORDINATOR_NOT_AVAILABLE')) });
    expect((await callApi(ApiKey.JoinGroup, 0, joinRequest(), fakeContext(unavailable))).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const broken = new FakeGroups({ joinGroup: () => Promise.reject(new TypeError('bug')) });
    await expect(callApi(ApiKey.JoinGroup, 9, joinRequest(), fakeContext(broken))).rejects.toThrow('bug');
  });
});

function synced(overrides: Partial<SyncGroupResult> = {}): SyncGroupResult {
  return { errorCode: 0, errorMessage: null, protocolType: 'consumer', protocolName: 'range', assignment, ...overrides };
}

const syncRequest = {
  groupId: 'g',
  generationId: 3,
  memberId: 'member-1',
  groupInstanceId: 'instance-1',
  protocolType: 'consumer',
  protocolName: 'range',
  assignments: [{ memberId: 'member-1', assignment }],
};

describe('SyncGroup', () => {
  it('v0: no instance id, no protocol check; the member gets its assignment', async () => {
    const groups = new FakeGroups({ syncGroup: () => Promise.resolve(synced()) });
    const response = await callApi(ApiKey.SyncGroup, 0, syncRequest, fakeContext(groups));
    expect(groups.argumentsOf('syncGroup')[0]).toEqual({
      groupId: 'g',
      generationId: 3,
      memberId: 'member-1',
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [{ memberId: 'member-1', assignment }],
    } satisfies SyncGroupRequest);
    expect(response).toEqual({ throttleTimeMs: 0, errorCode: 0, protocolType: null, protocolName: null, assignment });
  });

  it('v3 (KafkaJS, librdkafka) sends the instance id', async () => {
    const groups = new FakeGroups({ syncGroup: () => Promise.resolve(synced()) });
    await callApi(ApiKey.SyncGroup, 3, syncRequest, fakeContext(groups));
    expect(groups.argumentsOf('syncGroup')[0]).toMatchObject({ groupInstanceId: 'instance-1', protocolType: null, protocolName: null });
  });

  it('v5 (@platformatic/kafka): protocol type and name both ways; without them INCONSISTENT_GROUP_PROTOCOL', async () => {
    const groups = new FakeGroups({ syncGroup: () => Promise.resolve(synced()) });
    const response = await callApi(ApiKey.SyncGroup, 5, syncRequest, fakeContext(groups));
    expect(groups.argumentsOf('syncGroup')[0]).toMatchObject({ protocolType: 'consumer', protocolName: 'range', groupInstanceId: 'instance-1' });
    expect(response).toEqual({ throttleTimeMs: 0, errorCode: 0, protocolType: 'consumer', protocolName: 'range', assignment });
    const missing = await callApi(ApiKey.SyncGroup, 5, { ...syncRequest, protocolName: null }, fakeContext(groups));
    expect(missing).toMatchObject({ errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL, assignment: Buffer.alloc(0) });
    expect(groups.argumentsOf('syncGroup')).toHaveLength(1);
  });

  it('errors: empty group id, the coordinator\'s own, and a rejection', async () => {
    const groups = new FakeGroups({ syncGroup: () => Promise.resolve(synced({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: new Uint8Array(0), protocolType: null, protocolName: null })) });
    expect((await callApi(ApiKey.SyncGroup, 3, { ...syncRequest, groupId: '' }, fakeContext(groups))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await callApi(ApiKey.SyncGroup, 3, syncRequest, fakeContext(groups))).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    // A group write that timed out makes the members rejoin, as Kafka's coordinator answers it.
    const rejecting = new FakeGroups({ syncGroup: () => Promise.reject(new RivuletError('REQUEST_TIMED_OUT')) });
    expect((await callApi(ApiKey.SyncGroup, 4, syncRequest, fakeContext(rejecting))).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });
});

describe('Heartbeat', () => {
  const request = { groupId: 'g', generationId: 3, memberId: 'member-1', groupInstanceId: 'instance-1' };

  it('v0 and v3 (KafkaJS, librdkafka): the instance id from v3', async () => {
    const groups = new FakeGroups({ heartbeat: () => ({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, errorMessage: null }) });
    const v0 = await callApi(ApiKey.Heartbeat, 0, request, fakeContext(groups));
    await callApi(ApiKey.Heartbeat, 3, request, fakeContext(groups));
    expect(groups.argumentsOf('heartbeat')).toEqual([
      { groupId: 'g', generationId: 3, memberId: 'member-1', groupInstanceId: null },
      { groupId: 'g', generationId: 3, memberId: 'member-1', groupInstanceId: 'instance-1' },
    ]);
    expect(v0).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.REBALANCE_IN_PROGRESS });
  });

  it('v4 (@platformatic/kafka): a loading coordinator answers NONE, as Kafka does; other errors pass', async () => {
    const loading = new FakeGroups({ heartbeat: () => ({ errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, errorMessage: null }) });
    expect(await callApi(ApiKey.Heartbeat, 4, request, fakeContext(loading))).toEqual({ throttleTimeMs: 0, errorCode: 0 });
    const moved = new FakeGroups({ heartbeat: () => ({ errorCode: ErrorCode.NOT_COORDINATOR, errorMessage: null }) });
    expect((await callApi(ApiKey.Heartbeat, 4, request, fakeContext(moved))).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });

  it('an empty group id is INVALID_GROUP_ID', async () => {
    const groups = new FakeGroups({});
    expect((await callApi(ApiKey.Heartbeat, 4, { ...request, groupId: '' }, fakeContext(groups))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect(groups.calls).toEqual([]);
  });
});

describe('LeaveGroup', () => {
  const members = [
    { memberId: 'member-1', groupInstanceId: null, reason: 'shutting down' },
    { memberId: '', groupInstanceId: 'instance-2', reason: null },
  ];

  it('v0-2 name one member and fold its error into the one error code', async () => {
    const groups = new FakeGroups({
      leaveGroup: (r) => Promise.resolve({ errorCode: 0, errorMessage: null, members: (r as LeaveGroupRequest).members.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })) }),
    });
    const v0 = await callApi(ApiKey.LeaveGroup, 0, { groupId: 'g', memberId: 'member-1' }, fakeContext(groups));
    expect(groups.argumentsOf('leaveGroup')[0]).toEqual({ groupId: 'g', members: [{ memberId: 'member-1', groupInstanceId: null, reason: null }] });
    expect(v0).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.UNKNOWN_MEMBER_ID, members: [] });
    const topLevel = new FakeGroups({ leaveGroup: () => Promise.resolve({ errorCode: ErrorCode.NOT_COORDINATOR, errorMessage: null, members: [] }) });
    expect((await callApi(ApiKey.LeaveGroup, 1, { groupId: 'g', memberId: 'member-1' }, fakeContext(topLevel))).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });

  it('v3 (KafkaJS) names several members and answers each; v5 (@platformatic/kafka) adds reasons', async () => {
    const groups = new FakeGroups({
      leaveGroup: (r) =>
        Promise.resolve({ errorCode: 0, errorMessage: null, members: (r as LeaveGroupRequest).members.map((m, i) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: i === 0 ? 0 : ErrorCode.UNKNOWN_MEMBER_ID })) }),
    });
    const v3 = await callApi(ApiKey.LeaveGroup, 3, { groupId: 'g', members }, fakeContext(groups));
    const v5 = await callApi(ApiKey.LeaveGroup, 5, { groupId: 'g', members }, fakeContext(groups));
    const [asked3, asked5] = groups.argumentsOf('leaveGroup') as LeaveGroupRequest[];
    expect(asked3!.members).toEqual(members.map((m) => ({ ...m, reason: null })));
    expect(asked5!.members).toEqual(members);
    const answered = [
      { memberId: 'member-1', groupInstanceId: null, errorCode: 0 },
      { memberId: '', groupInstanceId: 'instance-2', errorCode: ErrorCode.UNKNOWN_MEMBER_ID },
    ];
    expect(v3).toEqual({ throttleTimeMs: 0, errorCode: 0, members: answered });
    expect(v5).toEqual(v3);
  });

  it('errors: empty group id, and a rejection, on the whole request', async () => {
    const groups = new FakeGroups({});
    expect(await callApi(ApiKey.LeaveGroup, 5, { groupId: '', members }, fakeContext(groups))).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID, members: [] });
    expect((await callApi(ApiKey.LeaveGroup, 2, { groupId: '', memberId: 'm' }, fakeContext(groups))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    const rejecting = new FakeGroups({ leaveGroup: () => Promise.reject(new RivuletError('KAFKA_STORAGE_ERROR')) });
    expect(await callApi(ApiKey.LeaveGroup, 4, { groupId: 'g', members }, fakeContext(rejecting))).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.NOT_COORDINATOR, members: [] });
  });
});
