import { ErrorCode, RivuletError } from '@rivulet/common';
import type { GroupDescription, GroupListing, GroupState } from '@rivulet/broker';
import { describe, expect, it } from 'vitest';
import { AUTHORIZED_OPERATIONS_OMITTED, ApiKey } from '../schema/api-table.js';
import { FakeGroups, callApi, fakeContext } from '../testing/group-harness.js';

const stable: GroupDescription = {
  groupId: 'g',
  errorCode: 0,
  groupState: 'Stable',
  protocolType: 'consumer',
  protocolData: 'range',
  members: [{ memberId: 'member-1', groupInstanceId: 'instance-1', clientId: 'client-a', clientHost: '/10.0.0.7', memberMetadata: Buffer.from('meta'), memberAssignment: Buffer.from('assigned') }],
};
const dead: GroupDescription = { groupId: 'nobody', errorCode: 0, groupState: 'Dead', protocolType: '', protocolData: '', members: [] };
const moved: GroupDescription = { ...dead, groupId: 'elsewhere', errorCode: ErrorCode.NOT_COORDINATOR };

/** READ (3), DELETE (6) and DESCRIBE (8): every group operation but its configs. */
const READ_DELETE_DESCRIBE = (1 << 3) | (1 << 6) | (1 << 8);

describe('DescribeGroups', () => {
  it('v0: state, protocol and members; an unknown group is Dead without an error', async () => {
    const groups = new FakeGroups({ describeGroups: () => [stable, dead] });
    const response = await callApi(ApiKey.DescribeGroups, 0, { groups: ['g', 'nobody'] }, fakeContext(groups));
    expect(groups.argumentsOf('describeGroups')).toEqual([['g', 'nobody']]);
    expect(response.groups).toEqual([
      {
        errorCode: 0,
        groupId: 'g',
        groupState: 'Stable',
        protocolType: 'consumer',
        protocolData: 'range',
        members: [{ memberId: 'member-1', groupInstanceId: null, clientId: 'client-a', clientHost: '/10.0.0.7', memberMetadata: Buffer.from('meta'), memberAssignment: Buffer.from('assigned') }],
        authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
      },
      { errorCode: 0, groupId: 'nobody', groupState: 'Dead', protocolType: '', protocolData: '', members: [], authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED },
    ]);
  });

  it('v3: authorized operations only when asked, and only for groups described without an error', async () => {
    const groups = new FakeGroups({ describeGroups: () => [stable, moved] });
    const asked = await callApi(ApiKey.DescribeGroups, 3, { groups: ['g', 'elsewhere'], includeAuthorizedOperations: true }, fakeContext(groups));
    const notAsked = await callApi(ApiKey.DescribeGroups, 3, { groups: ['g', 'elsewhere'], includeAuthorizedOperations: false }, fakeContext(groups));
    const operations = (r: typeof asked) => (r.groups as { authorizedOperations: number }[]).map((g) => g.authorizedOperations);
    expect(operations(asked)).toEqual([READ_DELETE_DESCRIBE, AUTHORIZED_OPERATIONS_OMITTED]);
    expect(operations(notAsked)).toEqual([AUTHORIZED_OPERATIONS_OMITTED, AUTHORIZED_OPERATIONS_OMITTED]);
  });

  it('v4 and v5 (@platformatic/kafka) answer the members\' instance ids', async () => {
    const groups = new FakeGroups({ describeGroups: () => [stable] });
    for (const version of [4, 5]) {
      const response = await callApi(ApiKey.DescribeGroups, version, { groups: ['g'], includeAuthorizedOperations: false }, fakeContext(groups));
      expect((response.groups as { members: { groupInstanceId: string | null }[] }[])[0]!.members[0]!.groupInstanceId).toBe('instance-1');
    }
  });

  it('a coordinator that throws answers every group with the mapped error', async () => {
    const groups = new FakeGroups({
      describeGroups: () => {
        throw new RivuletError('NOT_LEADER_OR_FOLLOWER');
      },
    });
    const response = await callApi(ApiKey.DescribeGroups, 5, { groups: ['a', 'b'], includeAuthorizedOperations: true }, fakeContext(groups));
    expect((response.groups as { groupId: string; errorCode: number; groupState: string; authorizedOperations: number }[]).map((g) => [g.groupId, g.errorCode, g.groupState, g.authorizedOperations])).toEqual([
      ['a', ErrorCode.NOT_COORDINATOR, '', AUTHORIZED_OPERATIONS_OMITTED],
      ['b', ErrorCode.NOT_COORDINATOR, '', AUTHORIZED_OPERATIONS_OMITTED],
    ]);
  });
});

const listings: GroupListing[] = [
  { groupId: 'g', protocolType: 'consumer', groupState: 'Stable' },
  { groupId: 'h', protocolType: 'consumer', groupState: 'Empty' },
];

describe('ListGroups', () => {
  it('v0 and v2 (KafkaJS): every group, without state', async () => {
    const groups = new FakeGroups({ listGroups: () => listings });
    for (const version of [0, 2]) {
      const response = await callApi(ApiKey.ListGroups, version, { statesFilter: ['Stable'] }, fakeContext(groups));
      expect(response).toMatchObject({ errorCode: 0, groups: [{ groupId: 'g', protocolType: 'consumer', groupState: '' }, { groupId: 'h', protocolType: 'consumer', groupState: '' }] });
    }
    expect(groups.argumentsOf('listGroups')).toEqual([null, null]);
  });

  it('v4 (librdkafka): states filtered without case (and trimmed), as Kafka does; unknown states match nothing', async () => {
    const groups = new FakeGroups({ listGroups: () => listings.slice(0, 1) });
    const response = await callApi(ApiKey.ListGroups, 4, { statesFilter: ['stable', ' EMPTY ', 'Rebalancing'] }, fakeContext(groups));
    expect(groups.argumentsOf('listGroups')).toEqual([['Empty', 'Stable'] satisfies GroupState[]]);
    expect(response.groups).toEqual([{ groupId: 'g', protocolType: 'consumer', groupState: 'Stable', groupType: '' }]);
    const unknown = new FakeGroups({});
    expect((await callApi(ApiKey.ListGroups, 4, { statesFilter: ['Rebalancing'] }, fakeContext(unknown))).groups).toEqual([]);
    expect(unknown.calls).toEqual([]);
    await callApi(ApiKey.ListGroups, 4, { statesFilter: [] }, fakeContext(groups));
    expect(groups.argumentsOf('listGroups')[1]).toBeNull();
  });

  it('v5: states named as @platformatic/kafka names them (PREPARING_REBALANCE) match too', async () => {
    const groups = new FakeGroups({ listGroups: () => [] });
    await callApi(ApiKey.ListGroups, 5, { statesFilter: ['PREPARING_REBALANCE', 'COMPLETING_REBALANCE', 'STABLE'], typesFilter: [] }, fakeContext(groups));
    expect(groups.argumentsOf('listGroups')).toEqual([['PreparingRebalance', 'CompletingRebalance', 'Stable']]);
  });

  it('v5 (@platformatic/kafka): every group is "classic"; a types filter without it lists nothing', async () => {
    const groups = new FakeGroups({ listGroups: () => listings });
    const classic = await callApi(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['Classic'] }, fakeContext(groups));
    expect((classic.groups as { groupType: string }[]).map((g) => g.groupType)).toEqual(['classic', 'classic']);
    const consumer = await callApi(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['consumer'] }, fakeContext(groups));
    expect(consumer.groups).toEqual([]);
    expect(groups.argumentsOf('listGroups')).toEqual([null]);
  });

  it('a coordinator that throws answers the error at the top', async () => {
    const groups = new FakeGroups({
      listGroups: () => {
        throw new RivuletError('COORDINATOR_LOAD_IN_PROGRESS');
      },
    });
    expect(await callApi(ApiKey.ListGroups, 3, {}, fakeContext(groups))).toMatchObject({ throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, groups: [] });
  });
});

describe('DeleteGroups', () => {
  it('v0 (KafkaJS v1, librdkafka v1) and v2 (@platformatic/kafka): each group once, with its own error', async () => {
    const groups = new FakeGroups({ deleteGroups: (ids) => Promise.resolve((ids as string[]).map((groupId) => ({ groupId, errorCode: groupId === 'busy' ? ErrorCode.NON_EMPTY_GROUP : 0 }))) });
    for (const version of [0, 2]) {
      const response = await callApi(ApiKey.DeleteGroups, version, { groupsNames: ['old', 'busy', 'old'] }, fakeContext(groups));
      expect(response).toEqual({ throttleTimeMs: 0, results: [{ groupId: 'old', errorCode: 0 }, { groupId: 'busy', errorCode: ErrorCode.NON_EMPTY_GROUP }] });
    }
    expect(groups.argumentsOf('deleteGroups')).toEqual([['old', 'busy'], ['old', 'busy']]);
  });

  it('a rejection answers every group with the mapped error; no groups, no call', async () => {
    const groups = new FakeGroups({ deleteGroups: () => Promise.reject(new RivuletError('REQUEST_TIMED_OUT')) });
    expect((await callApi(ApiKey.DeleteGroups, 1, { groupsNames: ['a', 'b'] }, fakeContext(groups))).results).toEqual([
      { groupId: 'a', errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE },
      { groupId: 'b', errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE },
    ]);
    const idle = new FakeGroups({});
    expect((await callApi(ApiKey.DeleteGroups, 2, { groupsNames: [] }, fakeContext(idle))).results).toEqual([]);
    expect(idle.calls).toEqual([]);
  });
});
