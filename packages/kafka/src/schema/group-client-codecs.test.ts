import { createRequire } from 'node:module';
import {
  Reader,
  deleteGroupsV2,
  describeGroupsV5,
  findCoordinatorV4,
  heartbeatV4,
  joinGroupV9,
  leaveGroupV5,
  listGroupsV5,
  offsetCommitV9,
  offsetFetchV9,
  syncGroupV5,
  type Writer,
} from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { WireReader } from '../wire/wire-reader.js';
import { WireWriter } from '../wire/wire-writer.js';
import { compiledApi } from './api-registry.js';
import { ApiKey } from './api-table.js';
import { decodeMessage, encodeMessage } from './codec.js';
import type { MessageValue } from './field.js';

/*
 * The group APIs' table entries against the clients' own codecs: requests built by KafkaJS's and
 * @platformatic/kafka's encoders (at the versions each lands on) decode to what the client was
 * asked, to the last byte, and our responses decode in the clients to what we answered. The
 * round trips of codec.test.ts only prove the table agrees with itself.
 */

function decodeRequest(apiKey: number, version: number, bytes: Buffer): MessageValue {
  const reader = new WireReader(bytes);
  const value = decodeMessage(compiledApi(apiKey)!.requests[version]!, reader);
  expect(reader.remainingBytes()).toBe(0);
  return value;
}

function encodeResponse(apiKey: number, version: number, value: MessageValue): Buffer {
  const writer = new WireWriter();
  encodeMessage(compiledApi(apiKey)!.responses[version]!, value, writer);
  return Buffer.concat(writer.finish());
}

// ---- KafkaJS 2.2.4 (non-flexible versions; its protocol modules are plain CommonJS) ----------

const require = createRequire(import.meta.url);

interface KafkaJsApi {
  request(...args: unknown[]): { encode(): Promise<{ buffer: Buffer }> };
  decode(raw: Buffer): Promise<Record<string, unknown>>;
}

function kafkajs(api: string, version: number): KafkaJsApi {
  const path = `kafkajs/src/protocol/requests/${api}/v${version}`;
  const request = require(`${path}/request`) as KafkaJsApi['request'];
  const { decode } = require(`${path}/response`) as { decode: KafkaJsApi['decode'] };
  return { request, decode };
}

async function kafkajsRequest(apiKey: number, api: string, version: number, ...args: unknown[]): Promise<MessageValue> {
  const encoded = await kafkajs(api, version).request(...args).encode();
  return decodeRequest(apiKey, version, encoded.buffer);
}

function kafkajsResponse(apiKey: number, api: string, version: number, value: MessageValue): Promise<Record<string, unknown>> {
  return kafkajs(api, version).decode(encodeResponse(apiKey, version, value));
}

const metadata = Buffer.from([0, 1, 0, 0, 0, 1, 0, 6, 111, 114, 100, 101, 114, 115]);
const assignment = Buffer.from([0, 1, 0, 0, 0, 1, 0, 1, 116, 0, 0, 0, 1, 0, 0, 0, 0]);

describe('KafkaJS 2.2.4 encoders and decoders agree with the table', () => {
  it('JoinGroup v5', async () => {
    const request = await kafkajsRequest(ApiKey.JoinGroup, 'joinGroup', 5, {
      groupId: 'g',
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      memberId: '',
      protocolType: 'consumer',
      groupProtocols: [{ name: 'RoundRobinAssigner', metadata }],
    });
    expect(request).toEqual({ groupId: 'g', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 60_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'RoundRobinAssigner', metadata }], reason: null });
    const response = await kafkajsResponse(ApiKey.JoinGroup, 'joinGroup', 5, {
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: 7,
      protocolName: 'RoundRobinAssigner',
      leader: 'm-1',
      memberId: 'm-2',
      members: [{ memberId: 'm-1', groupInstanceId: 'i-1', metadata }],
    });
    expect(response).toMatchObject({ errorCode: 0, generationId: 7, groupProtocol: 'RoundRobinAssigner', leaderId: 'm-1', memberId: 'm-2', members: [{ memberId: 'm-1', groupInstanceId: 'i-1', memberMetadata: metadata }] });
  });

  it('SyncGroup v3, Heartbeat v3, LeaveGroup v3', async () => {
    const sync = await kafkajsRequest(ApiKey.SyncGroup, 'syncGroup', 3, { groupId: 'g', generationId: 7, memberId: 'm-1', groupAssignment: [{ memberId: 'm-1', memberAssignment: assignment }] });
    expect(sync).toMatchObject({ groupId: 'g', generationId: 7, memberId: 'm-1', groupInstanceId: null, assignments: [{ memberId: 'm-1', assignment }] });
    expect(await kafkajsResponse(ApiKey.SyncGroup, 'syncGroup', 3, { throttleTimeMs: 0, errorCode: 0, assignment })).toMatchObject({ errorCode: 0, memberAssignment: assignment });
    const heartbeat = await kafkajsRequest(ApiKey.Heartbeat, 'heartbeat', 3, { groupId: 'g', groupGenerationId: 7, memberId: 'm-1', groupInstanceId: 'i-1' });
    expect(heartbeat).toEqual({ groupId: 'g', generationId: 7, memberId: 'm-1', groupInstanceId: 'i-1' });
    expect(await kafkajsResponse(ApiKey.Heartbeat, 'heartbeat', 3, { throttleTimeMs: 0, errorCode: 27 })).toMatchObject({ errorCode: 27 });
    const leave = await kafkajsRequest(ApiKey.LeaveGroup, 'leaveGroup', 3, { groupId: 'g', members: [{ memberId: 'm-1' }] });
    expect(leave).toMatchObject({ groupId: 'g', members: [{ memberId: 'm-1', groupInstanceId: null, reason: null }] });
    const left = await kafkajsResponse(ApiKey.LeaveGroup, 'leaveGroup', 3, { throttleTimeMs: 0, errorCode: 0, members: [{ memberId: 'm-1', groupInstanceId: null, errorCode: 0 }] });
    expect(left).toMatchObject({ errorCode: 0, members: [{ memberId: 'm-1', groupInstanceId: null, errorCode: 0 }] });
  });

  it('OffsetCommit v5 and OffsetFetch v4', async () => {
    const commit = await kafkajsRequest(ApiKey.OffsetCommit, 'offsetCommit', 5, { groupId: 'g', groupGenerationId: 7, memberId: 'm-1', topics: [{ topic: 'orders', partitions: [{ partition: 1, offset: '42', metadata: null }] }] });
    expect(commit).toMatchObject({ groupId: 'g', generationIdOrMemberEpoch: 7, memberId: 'm-1', retentionTimeMs: -1, topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 42, committedMetadata: null }] }] });
    const committed = await kafkajsResponse(ApiKey.OffsetCommit, 'offsetCommit', 5, { throttleTimeMs: 0, topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, errorCode: 0 }] }] });
    expect(committed).toMatchObject({ responses: [{ topic: 'orders', partitions: [{ partition: 1, errorCode: 0 }] }] });
    const fetch = await kafkajsRequest(ApiKey.OffsetFetch, 'offsetFetch', 4, { groupId: 'g', topics: [{ topic: 'orders', partitions: [{ partition: 0 }, { partition: 1 }] }] });
    expect(fetch).toMatchObject({ groupId: 'g', topics: [{ name: 'orders', partitionIndexes: [0, 1] }] });
    const fetched = await kafkajsResponse(ApiKey.OffsetFetch, 'offsetFetch', 4, {
      throttleTimeMs: 0,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 42, metadata: 'meta', errorCode: 0 }] }],
      errorCode: 0,
    });
    expect(fetched).toMatchObject({ errorCode: 0, responses: [{ topic: 'orders', partitions: [{ partition: 1, offset: '42', metadata: 'meta', errorCode: 0 }] }] });
  });

  it('DescribeGroups v2, ListGroups v2, DeleteGroups v1, FindCoordinator v2', async () => {
    expect(await kafkajsRequest(ApiKey.DescribeGroups, 'describeGroups', 2, { groupIds: ['g', 'h'] })).toEqual({ groups: ['g', 'h'], includeAuthorizedOperations: false });
    const described = await kafkajsResponse(ApiKey.DescribeGroups, 'describeGroups', 2, {
      throttleTimeMs: 0,
      groups: [{ errorCode: 0, groupId: 'g', groupState: 'Stable', protocolType: 'consumer', protocolData: 'RoundRobinAssigner', members: [{ memberId: 'm-1', clientId: 'c', clientHost: '/127.0.0.1', memberMetadata: metadata, memberAssignment: assignment }] }],
    });
    expect(described).toMatchObject({ groups: [{ groupId: 'g', state: 'Stable', protocol: 'RoundRobinAssigner', members: [{ memberId: 'm-1', clientHost: '/127.0.0.1', memberMetadata: metadata, memberAssignment: assignment }] }] });
    expect(await kafkajsRequest(ApiKey.ListGroups, 'listGroups', 2)).toEqual({ statesFilter: [], typesFilter: [] });
    expect(await kafkajsResponse(ApiKey.ListGroups, 'listGroups', 2, { throttleTimeMs: 0, errorCode: 0, groups: [{ groupId: 'g', protocolType: 'consumer' }] })).toMatchObject({ groups: [{ groupId: 'g', protocolType: 'consumer' }] });
    expect(await kafkajsRequest(ApiKey.DeleteGroups, 'deleteGroups', 1, ['g'])).toEqual({ groupsNames: ['g'] });
    expect(await kafkajsResponse(ApiKey.DeleteGroups, 'deleteGroups', 1, { throttleTimeMs: 0, results: [{ groupId: 'g', errorCode: 69 }] })).toMatchObject({ results: [{ groupId: 'g', errorCode: 69 }] });
    expect(await kafkajsRequest(ApiKey.FindCoordinator, 'findCoordinator', 2, { coordinatorKey: 'g', coordinatorType: 0 })).toMatchObject({ key: 'g', keyType: 0 });
    const found = await kafkajsResponse(ApiKey.FindCoordinator, 'findCoordinator', 2, { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: 2, host: 'b2', port: 9093 });
    expect(found).toMatchObject({ errorCode: 0, coordinator: { nodeId: 2, host: 'b2', port: 9093 } });
  });
});

// ---- @platformatic/kafka (flexible versions) ----------------------------------------------------

const platformaticRequest = (apiKey: number, version: number, writer: Writer): MessageValue => decodeRequest(apiKey, version, writer.buffer);
const platformaticResponse = <T>(parse: (correlationId: number, apiKey: number, apiVersion: number, reader: Reader) => T, apiKey: number, version: number, value: MessageValue): T =>
  parse(0, apiKey, version, Reader.from(encodeResponse(apiKey, version, value)));

describe('@platformatic/kafka encoders and decoders agree with the table', () => {
  it('JoinGroup v9, SyncGroup v5, Heartbeat v4, LeaveGroup v5', () => {
    const join = platformaticRequest(ApiKey.JoinGroup, 9, joinGroupV9.createRequest('g', 30_000, 60_000, '', 'i-1', 'consumer', [{ name: 'roundrobin', metadata }], 'first join'));
    expect(join).toEqual({ groupId: 'g', sessionTimeoutMs: 30_000, rebalanceTimeoutMs: 60_000, memberId: '', groupInstanceId: 'i-1', protocolType: 'consumer', protocols: [{ name: 'roundrobin', metadata }], reason: 'first join' });
    const joined = platformaticResponse(joinGroupV9.parseResponse, ApiKey.JoinGroup, 9, {
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: 7,
      protocolType: 'consumer',
      protocolName: 'roundrobin',
      leader: 'm-1',
      skipAssignment: true,
      memberId: 'm-1',
      members: [{ memberId: 'm-1', groupInstanceId: 'i-1', metadata }],
    });
    expect(joined).toMatchObject({ generationId: 7, protocolType: 'consumer', protocolName: 'roundrobin', leader: 'm-1', skipAssignment: true, memberId: 'm-1', members: [{ memberId: 'm-1', groupInstanceId: 'i-1', metadata }] });
    const sync = platformaticRequest(ApiKey.SyncGroup, 5, syncGroupV5.createRequest('g', 7, 'm-1', null, 'consumer', 'roundrobin', [{ memberId: 'm-1', assignment }]));
    expect(sync).toEqual({ groupId: 'g', generationId: 7, memberId: 'm-1', groupInstanceId: null, protocolType: 'consumer', protocolName: 'roundrobin', assignments: [{ memberId: 'm-1', assignment }] });
    const synced = platformaticResponse(syncGroupV5.parseResponse, ApiKey.SyncGroup, 5, { throttleTimeMs: 0, errorCode: 0, protocolType: 'consumer', protocolName: 'roundrobin', assignment });
    expect(synced).toMatchObject({ protocolType: 'consumer', protocolName: 'roundrobin', assignment });
    expect(platformaticRequest(ApiKey.Heartbeat, 4, heartbeatV4.createRequest('g', 7, 'm-1', 'i-1'))).toEqual({ groupId: 'g', generationId: 7, memberId: 'm-1', groupInstanceId: 'i-1' });
    expect(platformaticResponse(heartbeatV4.parseResponse, ApiKey.Heartbeat, 4, { throttleTimeMs: 0, errorCode: 0 })).toMatchObject({ errorCode: 0 });
    const leave = platformaticRequest(ApiKey.LeaveGroup, 5, leaveGroupV5.createRequest('g', [{ memberId: 'm-1', groupInstanceId: null, reason: 'closing' }]));
    expect(leave).toMatchObject({ groupId: 'g', members: [{ memberId: 'm-1', groupInstanceId: null, reason: 'closing' }] });
    const left = platformaticResponse(leaveGroupV5.parseResponse, ApiKey.LeaveGroup, 5, { throttleTimeMs: 0, errorCode: 0, members: [{ memberId: 'm-1', groupInstanceId: null, errorCode: 0 }] });
    expect(left).toMatchObject({ errorCode: 0, members: [{ memberId: 'm-1', groupInstanceId: null, errorCode: 0 }] });
  });

  it('OffsetCommit v9 and OffsetFetch v9', () => {
    const commit = platformaticRequest(ApiKey.OffsetCommit, 9, offsetCommitV9.createRequest('g', 7, 'm-1', null, [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 42n, committedLeaderEpoch: 3, committedMetadata: null }] }]));
    expect(commit).toMatchObject({ groupId: 'g', generationIdOrMemberEpoch: 7, memberId: 'm-1', groupInstanceId: null, topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 42, committedLeaderEpoch: 3, committedMetadata: null }] }] });
    const committed = platformaticResponse(offsetCommitV9.parseResponse, ApiKey.OffsetCommit, 9, { throttleTimeMs: 0, topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, errorCode: 0 }] }] });
    expect(committed).toMatchObject({ topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, errorCode: 0 }] }] });
    const fetch = platformaticRequest(ApiKey.OffsetFetch, 9, offsetFetchV9.createRequest([{ groupId: 'g', memberId: 'm-1', memberEpoch: -1, topics: [{ name: 'orders', partitionIndexes: [0, 1] }] }], true));
    expect(fetch).toMatchObject({ groups: [{ groupId: 'g', memberId: 'm-1', memberEpoch: -1, topics: [{ name: 'orders', partitionIndexes: [0, 1] }] }], requireStable: true });
    const fetched = platformaticResponse(offsetFetchV9.parseResponse, ApiKey.OffsetFetch, 9, {
      throttleTimeMs: 0,
      groups: [{ groupId: 'g', topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 42, committedLeaderEpoch: 3, metadata: null, errorCode: 0 }] }], errorCode: 0 }],
    });
    expect(fetched).toMatchObject({ groups: [{ groupId: 'g', errorCode: 0, topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 42n, committedLeaderEpoch: 3, metadata: null, errorCode: 0 }] }] }] });
  });

  it('DescribeGroups v5, ListGroups v5, DeleteGroups v2, FindCoordinator v4', () => {
    expect(platformaticRequest(ApiKey.DescribeGroups, 5, describeGroupsV5.createRequest(['g'], true))).toEqual({ groups: ['g'], includeAuthorizedOperations: true });
    const described = platformaticResponse(describeGroupsV5.parseResponse, ApiKey.DescribeGroups, 5, {
      throttleTimeMs: 0,
      groups: [
        {
          errorCode: 0,
          groupId: 'g',
          groupState: 'Stable',
          protocolType: 'consumer',
          protocolData: 'roundrobin',
          members: [{ memberId: 'm-1', groupInstanceId: 'i-1', clientId: 'c', clientHost: '/127.0.0.1', memberMetadata: metadata, memberAssignment: assignment }],
          authorizedOperations: 328,
        },
      ],
    });
    expect(described).toMatchObject({ groups: [{ groupId: 'g', groupState: 'Stable', members: [{ memberId: 'm-1', groupInstanceId: 'i-1', memberMetadata: metadata, memberAssignment: assignment }], authorizedOperations: 328 }] });
    expect(platformaticRequest(ApiKey.ListGroups, 5, listGroupsV5.createRequest(['STABLE'], ['classic']))).toEqual({ statesFilter: ['STABLE'], typesFilter: ['classic'] });
    const listed = platformaticResponse(listGroupsV5.parseResponse, ApiKey.ListGroups, 5, { throttleTimeMs: 0, errorCode: 0, groups: [{ groupId: 'g', protocolType: 'consumer', groupState: 'Stable', groupType: 'classic' }] });
    expect(listed).toMatchObject({ groups: [{ groupId: 'g', protocolType: 'consumer', groupState: 'Stable', groupType: 'classic' }] });
    expect(platformaticRequest(ApiKey.DeleteGroups, 2, deleteGroupsV2.createRequest(['g', 'h']))).toEqual({ groupsNames: ['g', 'h'] });
    expect(platformaticResponse(deleteGroupsV2.parseResponse, ApiKey.DeleteGroups, 2, { throttleTimeMs: 0, results: [{ groupId: 'g', errorCode: 0 }] })).toMatchObject({ results: [{ groupId: 'g', errorCode: 0 }] });
    expect(platformaticRequest(ApiKey.FindCoordinator, 4, findCoordinatorV4.createRequest(0, ['g', 'h']))).toMatchObject({ keyType: 0, coordinatorKeys: ['g', 'h'] });
    const found = platformaticResponse(findCoordinatorV4.parseResponse, ApiKey.FindCoordinator, 4, { throttleTimeMs: 0, coordinators: [{ key: 'g', nodeId: 2, host: 'b2', port: 9093, errorCode: 0, errorMessage: null }] });
    expect(found).toMatchObject({ coordinators: [{ key: 'g', nodeId: 2, host: 'b2', port: 9093, errorCode: 0 }] });
  });
});
