import { AssertionError, ErrorCode, RivuletError } from '@rivulet/common';
import { asBuffer, type Broker, type GroupState, type JoinGroupResult, type SyncGroupResult } from '@rivulet/broker';
import type { clientApi } from '@rivulet/proto';
import { answerInOrder, type ServiceHandlers } from '@rivulet/transport-grpc';
import type { NodeMetrics } from './metrics.js';

type GroupHandlers = Pick<
  ServiceHandlers<typeof clientApi.ClientApiService>,
  'findCoordinator' | 'joinGroup' | 'syncGroup' | 'heartbeat' | 'leaveGroup' | 'offsetCommit' | 'offsetCommitStream' | 'offsetFetch' | 'describeGroups' | 'listGroups' | 'deleteGroups'
>;

/** Commit requests of one OffsetCommitStream being worked on at once; the stream is read no further meanwhile. */
const COMMIT_STREAM_IN_FLIGHT_MAX = 64;

const GROUP_STATES: readonly GroupState[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'];

/**
 * The consumer-group RPCs of the gRPC client API, mapped one to one onto the broker's group
 * coordinator (Broker.groups, whose requests and results the protobuf messages mirror) and
 * Broker.findGroupCoordinator. Nullable strings travel as '' (null ⇄ ''), bytes the coordinator
 * keeps are copied out of the request, and a RivuletError the coordinator or the broker rejects
 * with becomes the answer's error code, as the coordinator answers its own errors: clients see
 * group errors in error_code fields, not as gRPC statuses.
 */
export function groupApiHandlers(broker: Broker, metrics: NodeMetrics): GroupHandlers {
  const offsetCommit = (request: clientApi.OffsetCommitRequest): Promise<clientApi.OffsetCommitResponse> => metrics.observe('offset_commit', () => commitOffsets(broker, request));
  return {
    findCoordinator: (request) => metrics.observe('find_coordinator', () => findCoordinator(broker, request.groupId)),
    joinGroup: (request, _signal, peer) =>
      metrics.observe('join_group', async () => {
        let result: JoinGroupResult;
        try {
          result = await broker.groups.joinGroup({
            groupId: request.groupId,
            sessionTimeoutMs: request.sessionTimeoutMs,
            rebalanceTimeoutMs: request.rebalanceTimeoutMs,
            memberId: request.memberId,
            groupInstanceId: nullIfEmpty(request.groupInstanceId),
            protocolType: request.protocolType,
            protocols: request.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
            requireKnownMemberId: request.requireKnownMemberId,
            reason: nullIfEmpty(request.reason),
            clientId: request.clientId,
            clientHost: clientHostOf(peer),
          });
        } catch (err) {
          const error = groupErrorOf(err);
          result = { errorCode: error.code, errorMessage: error.message, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId: request.memberId, members: [] };
        }
        return {
          errorCode: result.errorCode,
          errorMessage: result.errorMessage ?? '',
          generationId: result.generationId,
          protocolType: result.protocolType ?? '',
          protocolName: result.protocolName ?? '',
          leader: result.leader,
          skipAssignment: result.skipAssignment,
          memberId: result.memberId,
          members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? '', metadata: asBuffer(m.metadata) })),
        };
      }),
    syncGroup: (request) =>
      metrics.observe('sync_group', async () => {
        let result: SyncGroupResult;
        try {
          result = await broker.groups.syncGroup({
            groupId: request.groupId,
            generationId: request.generationId,
            memberId: request.memberId,
            groupInstanceId: nullIfEmpty(request.groupInstanceId),
            protocolType: nullIfEmpty(request.protocolType),
            protocolName: nullIfEmpty(request.protocolName),
            assignments: request.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
          });
        } catch (err) {
          const error = groupErrorOf(err);
          result = { errorCode: error.code, errorMessage: error.message, protocolType: null, protocolName: null, assignment: new Uint8Array(0) };
        }
        return {
          errorCode: result.errorCode,
          errorMessage: result.errorMessage ?? '',
          protocolType: result.protocolType ?? '',
          protocolName: result.protocolName ?? '',
          assignment: asBuffer(result.assignment),
        };
      }),
    heartbeat: (request, signal) =>
      metrics.observe('heartbeat', async () => {
        const heartbeat = { groupId: request.groupId, generationId: request.generationId, memberId: request.memberId, groupInstanceId: nullIfEmpty(request.groupInstanceId) };
        try {
          const result = request.maxWaitMs > 0 ? await broker.groups.heartbeatUntilRebalance(heartbeat, request.maxWaitMs, signal) : broker.groups.heartbeat(heartbeat);
          return { errorCode: result.errorCode, errorMessage: result.errorMessage ?? '' };
        } catch (err) {
          const error = groupErrorOf(err);
          return { errorCode: error.code, errorMessage: error.message };
        }
      }),
    leaveGroup: (request) =>
      metrics.observe('leave_group', async () => {
        try {
          const result = await broker.groups.leaveGroup({
            groupId: request.groupId,
            members: request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: nullIfEmpty(m.groupInstanceId), reason: nullIfEmpty(m.reason) })),
          });
          return {
            errorCode: result.errorCode,
            errorMessage: result.errorMessage ?? '',
            members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? '', errorCode: m.errorCode })),
          };
        } catch (err) {
          const error = groupErrorOf(err);
          return { errorCode: error.code, errorMessage: error.message, members: [] };
        }
      }),
    offsetCommit,
    offsetCommitStream: answerInOrder(
      async (request): Promise<clientApi.OffsetCommitStreamResponse> => ({ response: await offsetCommit(request), errorCode: ErrorCode.NONE, errorMessage: '' }),
      (err) => ({ response: { topics: [] }, errorCode: err.code, errorMessage: err.message }),
      COMMIT_STREAM_IN_FLIGHT_MAX,
    ),
    offsetFetch: (request) =>
      metrics.observe('offset_fetch', () => {
        try {
          const result = broker.groups.fetchOffsets({
            groupId: request.groupId,
            topics: request.topics.length === 0 ? null : request.topics.map((t) => ({ name: t.name, partitionIndexes: t.partitionIndexes })),
            requireStable: request.requireStable,
          });
          return Promise.resolve({
            errorCode: result.errorCode,
            topics: result.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ ...p, metadata: p.metadata ?? '' })) })),
          });
        } catch (err) {
          return Promise.resolve({ errorCode: groupErrorOf(err).code, topics: [] });
        }
      }),
    describeGroups: (request) =>
      metrics.observe('describe_groups', () => {
        let groups: clientApi.GroupDescription[];
        try {
          groups = broker.groups.describeGroups(request.groupIds).map((g) => ({
            ...g,
            members: g.members.map((m) => ({
              ...m,
              groupInstanceId: m.groupInstanceId ?? '',
              memberMetadata: asBuffer(m.memberMetadata),
              memberAssignment: asBuffer(m.memberAssignment),
            })),
          }));
        } catch (err) {
          const errorCode = groupErrorOf(err).code;
          groups = request.groupIds.map((groupId) => ({ groupId, errorCode, groupState: 'Dead', protocolType: '', protocolData: '', members: [] }));
        }
        return Promise.resolve({ groups });
      }),
    listGroups: (request) =>
      metrics.observe('list_groups', () => {
        const states = request.statesFilter.map((name) => {
          // Kafka matches state names case-insensitively (KIP-518).
          const state = GROUP_STATES.find((s) => s.toLowerCase() === name.toLowerCase());
          if (state === undefined) throw new RivuletError('INVALID_REQUEST', `unknown group state ${name}: use one of ${GROUP_STATES.join(', ')}`);
          return state;
        });
        return Promise.resolve({ groups: broker.groups.listGroups(states.length === 0 ? null : states) });
      }),
    deleteGroups: (request) =>
      metrics.observe('delete_groups', async () => {
        try {
          return { results: await broker.groups.deleteGroups(request.groupIds) };
        } catch (err) {
          const errorCode = groupErrorOf(err).code;
          return { results: request.groupIds.map((groupId) => ({ groupId, errorCode })) };
        }
      }),
  };
}

/** The coordinator of a group and where clients reach its gRPC listener; COORDINATOR_NOT_AVAILABLE (retriable) while there is none. */
async function findCoordinator(broker: Broker, groupId: string): Promise<clientApi.FindCoordinatorResponse> {
  const notFound = (error: RivuletError): clientApi.FindCoordinatorResponse => ({ errorCode: error.code, errorMessage: error.message, nodeId: -1, host: '', grpcPort: -1 });
  let nodeId: number;
  try {
    nodeId = await broker.findGroupCoordinator(groupId);
  } catch (err) {
    return notFound(groupErrorOf(err));
  }
  const endpoint = broker.describeCluster().brokers.find((b) => b.nodeId === nodeId);
  if (endpoint === undefined || endpoint.grpcPort <= 0) {
    return notFound(new RivuletError('COORDINATOR_NOT_AVAILABLE', `the coordinator of group ${groupId}, broker ${nodeId}, has no gRPC listener in the metadata`));
  }
  return { errorCode: ErrorCode.NONE, errorMessage: '', nodeId, host: endpoint.host, grpcPort: endpoint.grpcPort };
}

/** Partitions of topics that do not exist are answered UNKNOWN_TOPIC_OR_PARTITION (Broker.commitGroupOffsets). */
async function commitOffsets(broker: Broker, request: clientApi.OffsetCommitRequest): Promise<clientApi.OffsetCommitResponse> {
  const result = await broker.commitGroupOffsets({
    groupId: request.groupId,
    generationId: request.generationId,
    memberId: request.memberId,
    groupInstanceId: nullIfEmpty(request.groupInstanceId),
    retentionTimeMs: request.retentionTimeMs,
    topics: request.topics,
  });
  return { topics: result.topics.map((t) => ({ name: t.name, partitions: [...t.partitions] })) };
}

/** A rejection as the error it answers with; anything but a RivuletError is a bug and propagates. */
function groupErrorOf(err: unknown): RivuletError {
  if (err instanceof AssertionError || !(err instanceof RivuletError)) throw err;
  return err;
}

function nullIfEmpty(value: string): string | null {
  return value === '' ? null : value;
}


/** The client's address as Kafka shows it (Java's InetAddress): "/" and the IP, an IPv4-mapped IPv6 address as IPv4. */
function clientHostOf(peer: string): string {
  if (peer === 'unknown') return '';
  return `/${peer.replace(/:\d+$/, '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '')}`;
}
