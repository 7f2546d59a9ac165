import { ErrorCode, RivuletError } from '@rivulet/common';
import type { OffsetCommitRequest, OffsetCommitResult, OffsetFetchRequest, OffsetFetchResult } from '@rivulet/broker';
import { describe, expect, it } from 'vitest';
import { compiledApi } from '../schema/api-registry.js';
import { ApiKey } from '../schema/api-table.js';
import type { MessageValue } from '../schema/field.js';
import { FakeGroups, callApi, fakeContext, throughWire } from '../testing/group-harness.js';
import { unsupportedVersionResponse } from './request-router.js';

const topics = { orders: 2, audit: 1 };

const commitRequest = {
  groupId: 'g',
  generationIdOrMemberEpoch: 4,
  memberId: 'member-1',
  groupInstanceId: 'instance-1',
  retentionTimeMs: 86_400_000,
  topics: [
    {
      name: 'orders',
      partitions: [
        { partitionIndex: 0, committedOffset: 100, committedLeaderEpoch: 2, commitTimestamp: 1_700_000_000_000, committedMetadata: 'm0' },
        { partitionIndex: 1, committedOffset: 200, committedLeaderEpoch: 2, commitTimestamp: -1, committedMetadata: null },
      ],
    },
  ],
};

/** Answers every committed partition with `errorCode`. */
function commitAnswering(errorCode: number) {
  return (request: OffsetCommitRequest): Promise<OffsetCommitResult> =>
    Promise.resolve({ topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })) });
}

describe('OffsetCommit', () => {
  it('v0 kept offsets in ZooKeeper: every partition is answered UNSUPPORTED_VERSION', () => {
    const api = compiledApi(ApiKey.OffsetCommit)!;
    const response = unsupportedVersionResponse(ApiKey.OffsetCommit, throughWire(api.requests[0]!, commitRequest), 0)!;
    expect(throughWire(api.responses[0]!, response)).toEqual({
      throttleTimeMs: 0,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.UNSUPPORTED_VERSION }, { partitionIndex: 1, errorCode: ErrorCode.UNSUPPORTED_VERSION }] }],
    });
  });

  it('v1: generation and member; no retention, instance id or leader epoch; the commit timestamp is not passed on', async () => {
    const groups = new FakeGroups({ commitOffsets: commitAnswering(0) });
    const response = await callApi(ApiKey.OffsetCommit, 1, commitRequest, fakeContext(groups, { topics }));
    expect(groups.argumentsOf('commitOffsets')[0]).toEqual({
      groupId: 'g',
      generationId: 4,
      memberId: 'member-1',
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 100, committedLeaderEpoch: -1, committedMetadata: 'm0' },
            { partitionIndex: 1, committedOffset: 200, committedLeaderEpoch: -1, committedMetadata: null },
          ],
        },
      ],
    } satisfies OffsetCommitRequest);
    expect(response).toEqual({ throttleTimeMs: 0, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: 0 }] }] });
  });

  it('v2-4 carry a retention time; v5 (KafkaJS) drops it again', async () => {
    const groups = new FakeGroups({ commitOffsets: commitAnswering(0) });
    await callApi(ApiKey.OffsetCommit, 2, commitRequest, fakeContext(groups, { topics }));
    await callApi(ApiKey.OffsetCommit, 5, commitRequest, fakeContext(groups, { topics }));
    const [v2, v5] = groups.argumentsOf('commitOffsets') as OffsetCommitRequest[];
    expect(v2!.retentionTimeMs).toBe(86_400_000);
    expect(v5!.retentionTimeMs).toBe(-1);
    expect(v5!.topics[0]!.partitions[0]!.committedLeaderEpoch).toBe(-1);
  });

  it('v7 (librdkafka): leader epoch and instance id; an unknown group is ILLEGAL_GENERATION before v9', async () => {
    const groups = new FakeGroups({ commitOffsets: commitAnswering(ErrorCode.GROUP_ID_NOT_FOUND) });
    const response = await callApi(ApiKey.OffsetCommit, 7, commitRequest, fakeContext(groups, { topics }));
    expect(groups.argumentsOf('commitOffsets')[0]).toMatchObject({ groupInstanceId: 'instance-1', generationId: 4, retentionTimeMs: -1 });
    expect((groups.argumentsOf('commitOffsets')[0] as OffsetCommitRequest).topics[0]!.partitions[0]!.committedLeaderEpoch).toBe(2);
    expect(response.topics).toEqual([{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.ILLEGAL_GENERATION }, { partitionIndex: 1, errorCode: ErrorCode.ILLEGAL_GENERATION }] }]);
  });

  it('v9 (@platformatic/kafka) with classic semantics: GenerationIdOrMemberEpoch is the generation; GROUP_ID_NOT_FOUND passes', async () => {
    const groups = new FakeGroups({ commitOffsets: commitAnswering(ErrorCode.GROUP_ID_NOT_FOUND) });
    const response = await callApi(ApiKey.OffsetCommit, 9, commitRequest, fakeContext(groups, { topics }));
    expect(groups.argumentsOf('commitOffsets')[0]).toMatchObject({ groupId: 'g', generationId: 4, memberId: 'member-1', groupInstanceId: 'instance-1' });
    expect(((response.topics as MessageValue[])[0]!.partitions as MessageValue[])[0]).toEqual({ partitionIndex: 0, errorCode: ErrorCode.GROUP_ID_NOT_FOUND });
  });

  it('partitions of unknown topics, or past the partition count, are UNKNOWN_TOPIC_OR_PARTITION and never committed', async () => {
    const groups = new FakeGroups({ commitOffsets: commitAnswering(0) });
    const request = {
      ...commitRequest,
      topics: [
        { name: 'gone', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: '' }] },
        { name: 'audit', partitions: [{ partitionIndex: 0, committedOffset: 5, committedMetadata: '' }, { partitionIndex: 1, committedOffset: 6, committedMetadata: '' }] },
      ],
    };
    const response = await callApi(ApiKey.OffsetCommit, 8, request, fakeContext(groups, { topics }));
    expect((groups.argumentsOf('commitOffsets')[0] as OffsetCommitRequest).topics).toEqual([
      { name: 'audit', partitions: [{ partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: -1, committedMetadata: '' }] },
    ]);
    expect(response.topics).toEqual([
      { name: 'gone', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] },
      { name: 'audit', partitions: [{ partitionIndex: 0, errorCode: 0 }, { partitionIndex: 1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] },
    ]);
    const none = new FakeGroups({});
    await callApi(ApiKey.OffsetCommit, 8, { ...request, topics: [request.topics[0]!] }, fakeContext(none, { topics }));
    expect(none.calls).toEqual([]);
  });

  it('a rejected commit answers its committed partitions with the mapped error; an empty group id is passed on, as Kafka does', async () => {
    const rejecting = new FakeGroups({ commitOffsets: () => Promise.reject(new RivuletError('NOT_LEADER_OR_FOLLOWER')) });
    const response = await callApi(ApiKey.OffsetCommit, 8, { ...commitRequest, groupId: '' }, fakeContext(rejecting, { topics }));
    expect(rejecting.argumentsOf('commitOffsets')[0]).toMatchObject({ groupId: '' });
    expect(response.topics).toEqual([{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.NOT_COORDINATOR }, { partitionIndex: 1, errorCode: ErrorCode.NOT_COORDINATOR }] }]);
  });
});

const fetched: OffsetFetchResult = {
  errorCode: 0,
  topics: [
    {
      name: 'orders',
      partitions: [
        { partitionIndex: 0, committedOffset: 100, committedLeaderEpoch: 2, metadata: 'm0', errorCode: 0 },
        { partitionIndex: 1, committedOffset: -1, committedLeaderEpoch: -1, metadata: null, errorCode: 0 },
      ],
    },
  ],
};

const askedTopics = [{ name: 'orders', partitionIndexes: [0, 1] }];

describe('OffsetFetch', () => {
  it('v0 read offsets from ZooKeeper: UNSUPPORTED_VERSION on every asked partition', () => {
    const api = compiledApi(ApiKey.OffsetFetch)!;
    const response = unsupportedVersionResponse(ApiKey.OffsetFetch, throughWire(api.requests[0]!, { groupId: 'g', topics: askedTopics }), 0)!;
    const partitions = ((throughWire(api.responses[0]!, response).topics as MessageValue[])[0]!.partitions as MessageValue[]).map((p) => [p.partitionIndex, p.committedOffset, p.errorCode]);
    expect(partitions).toEqual([
      [0, -1, ErrorCode.UNSUPPORTED_VERSION],
      [1, -1, ErrorCode.UNSUPPORTED_VERSION],
    ]);
  });

  it('v1: offsets without leader epochs; a group error travels on every asked partition', async () => {
    const groups = new FakeGroups({ fetchOffsets: () => fetched });
    const response = await callApi(ApiKey.OffsetFetch, 1, { groupId: 'g', topics: askedTopics }, fakeContext(groups));
    expect(groups.argumentsOf('fetchOffsets')[0]).toEqual({ groupId: 'g', topics: askedTopics, requireStable: false } satisfies OffsetFetchRequest);
    expect(response.topics).toEqual([
      {
        name: 'orders',
        partitions: [
          { partitionIndex: 0, committedOffset: 100, committedLeaderEpoch: -1, metadata: 'm0', errorCode: 0 },
          { partitionIndex: 1, committedOffset: -1, committedLeaderEpoch: -1, metadata: null, errorCode: 0 },
        ],
      },
    ]);
    const loading = new FakeGroups({ fetchOffsets: () => ({ errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, topics: [] }) });
    const failed = await callApi(ApiKey.OffsetFetch, 1, { groupId: 'g', topics: askedTopics }, fakeContext(loading));
    expect(((failed.topics as MessageValue[])[0]!.partitions as MessageValue[]).map((p) => p.errorCode)).toEqual([ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]);
  });

  it('v2 asks for every partition with null topics and answers group errors at the top', async () => {
    const groups = new FakeGroups({ fetchOffsets: () => ({ errorCode: ErrorCode.NOT_COORDINATOR, topics: [] }) });
    const response = await callApi(ApiKey.OffsetFetch, 2, { groupId: 'g', topics: null }, fakeContext(groups));
    expect(groups.argumentsOf('fetchOffsets')[0]).toEqual({ groupId: 'g', topics: null, requireStable: false });
    expect(response).toMatchObject({ throttleTimeMs: 0, topics: [], errorCode: ErrorCode.NOT_COORDINATOR });
  });

  it('v4 (KafkaJS) and v5 answer the committed leader epoch from v5; v7 (librdkafka) passes requireStable', async () => {
    const groups = new FakeGroups({ fetchOffsets: () => fetched });
    const v4 = await callApi(ApiKey.OffsetFetch, 4, { groupId: 'g', topics: askedTopics, requireStable: true }, fakeContext(groups));
    const v5 = await callApi(ApiKey.OffsetFetch, 5, { groupId: 'g', topics: askedTopics }, fakeContext(groups));
    const v7 = await callApi(ApiKey.OffsetFetch, 7, { groupId: 'g', topics: askedTopics, requireStable: true }, fakeContext(groups));
    const epochs = (r: MessageValue) => ((r.topics as MessageValue[])[0]!.partitions as MessageValue[])[0]!.committedLeaderEpoch;
    expect([epochs(v4), epochs(v5), epochs(v7)]).toEqual([-1, 2, 2]);
    expect((groups.argumentsOf('fetchOffsets') as OffsetFetchRequest[]).map((r) => r.requireStable)).toEqual([false, false, true]);
    expect(v7.errorCode).toBe(0);
  });

  it('v8 asks for several groups and answers each on its own', async () => {
    const groups = new FakeGroups({ fetchOffsets: (r) => ((r as OffsetFetchRequest).groupId === 'a' ? fetched : { errorCode: ErrorCode.NOT_COORDINATOR, topics: [] }) });
    const response = await callApi(ApiKey.OffsetFetch, 8, { groups: [{ groupId: 'a', topics: askedTopics }, { groupId: 'b', topics: null }], requireStable: true }, fakeContext(groups));
    expect(groups.argumentsOf('fetchOffsets')).toEqual([
      { groupId: 'a', topics: askedTopics, requireStable: true },
      { groupId: 'b', topics: null, requireStable: true },
    ]);
    expect(response).toMatchObject({
      throttleTimeMs: 0,
      groups: [
        { groupId: 'a', topics: fetched.topics, errorCode: 0 },
        { groupId: 'b', topics: [], errorCode: ErrorCode.NOT_COORDINATOR },
      ],
    });
  });

  it('v9 (@platformatic/kafka): a classic group ignores member id and epoch; a throwing coordinator answers per group', async () => {
    const groups = new FakeGroups({ fetchOffsets: () => fetched });
    const response = await callApi(ApiKey.OffsetFetch, 9, { groups: [{ groupId: 'a', memberId: 'member-1', memberEpoch: -1, topics: askedTopics }], requireStable: false }, fakeContext(groups));
    expect(groups.argumentsOf('fetchOffsets')).toEqual([{ groupId: 'a', topics: askedTopics, requireStable: false }]);
    expect(response.groups).toEqual([{ groupId: 'a', topics: fetched.topics, errorCode: 0 }]);
    const throwing = new FakeGroups({
      fetchOffsets: () => {
        throw new RivuletError('NOT_ENOUGH_REPLICAS');
      },
    });
    const failed = await callApi(ApiKey.OffsetFetch, 9, { groups: [{ groupId: 'a', topics: null }], requireStable: false }, fakeContext(throwing));
    expect(failed.groups).toEqual([{ groupId: 'a', topics: [], errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE }]);
  });
});
