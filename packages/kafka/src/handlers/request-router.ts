import { ErrorCode, RivuletError } from '@rivulet/common';
import { ApiKey } from '../schema/api-table.js';
import type { MessageValue } from '../schema/field.js';
import { handleApiVersions } from './api-versions-handler.js';
import { handleDescribeCluster, handleMetadata } from './cluster-handlers.js';
import { fetchErrorResponse, handleFetch } from './fetch-handler.js';
import { handleFindCoordinator } from './find-coordinator-handler.js';
import { handleDeleteGroups, handleDescribeGroups, handleListGroups } from './group-admin-handlers.js';
import { handleHeartbeat, handleJoinGroup, handleLeaveGroup, handleSyncGroup } from './group-handlers.js';
import { handleOffsetCommit, handleOffsetFetch, offsetCommitErrorResponse, offsetFetchErrorResponse } from './group-offset-handlers.js';
import type { Handler, HandlerContext } from './handler-context.js';
import { handleDeleteRecords, handleListOffsets, handleOffsetForLeaderEpoch } from './offset-handlers.js';
import { handleProduce, produceErrorResponse } from './produce-handler.js';
import { handleInitProducerId } from './producer-id-handler.js';
import { handleAlterPartitionReassignments, handleListPartitionReassignments } from './reassignment-handlers.js';
import { handleAlterConfigs, handleCreatePartitions, handleCreateTopics, handleDeleteTopics, handleDescribeConfigs, handleIncrementalAlterConfigs } from './topic-handlers.js';

const handlers = new Map<number, Handler>([
  [ApiKey.Produce, handleProduce],
  [ApiKey.Fetch, handleFetch],
  [ApiKey.ListOffsets, handleListOffsets],
  [ApiKey.Metadata, handleMetadata],
  [ApiKey.OffsetCommit, handleOffsetCommit],
  [ApiKey.OffsetFetch, handleOffsetFetch],
  [ApiKey.FindCoordinator, handleFindCoordinator],
  [ApiKey.JoinGroup, handleJoinGroup],
  [ApiKey.Heartbeat, handleHeartbeat],
  [ApiKey.LeaveGroup, handleLeaveGroup],
  [ApiKey.SyncGroup, handleSyncGroup],
  [ApiKey.DescribeGroups, handleDescribeGroups],
  [ApiKey.ListGroups, handleListGroups],
  [ApiKey.ApiVersions, handleApiVersions],
  [ApiKey.CreateTopics, handleCreateTopics],
  [ApiKey.DeleteTopics, handleDeleteTopics],
  [ApiKey.DeleteRecords, handleDeleteRecords],
  [ApiKey.InitProducerId, handleInitProducerId],
  [ApiKey.OffsetForLeaderEpoch, handleOffsetForLeaderEpoch],
  [ApiKey.DescribeConfigs, handleDescribeConfigs],
  [ApiKey.CreatePartitions, handleCreatePartitions],
  [ApiKey.DeleteGroups, handleDeleteGroups],
  [ApiKey.AlterConfigs, handleAlterConfigs],
  [ApiKey.IncrementalAlterConfigs, handleIncrementalAlterConfigs],
  [ApiKey.AlterPartitionReassignments, handleAlterPartitionReassignments],
  [ApiKey.ListPartitionReassignments, handleListPartitionReassignments],
  [ApiKey.DescribeCluster, handleDescribeCluster],
]);

export function routeRequest(apiKey: number, request: MessageValue, version: number, context: HandlerContext): Promise<MessageValue | null> {
  const handler = handlers.get(apiKey);
  if (!handler) throw new RivuletError('INVALID_REQUEST', `no handler for API key ${apiKey}`);
  return handler(request, version, context);
}

/** A whole-request error in the response shape of one API (null: no response, Produce acks=0). */
type ErrorAnswer = (request: MessageValue, version: number, errorCode: number) => MessageValue | null;

const OLD_MESSAGE_FORMAT = 'this version of the API is not supported; upgrade the client to message format v2';

/**
 * Error answers of the APIs that have versions we decode but do not serve: Produce 0-2 and
 * Fetch 0-3 (the old message formats), OffsetCommit 0 and OffsetFetch 0 (offsets kept in
 * ZooKeeper). An API whose served range is narrower than its decoded range must be listed here.
 */
const errorAnswers = new Map<number, ErrorAnswer>([
  [ApiKey.Produce, (request, _version, errorCode) => ((request as { acks?: number }).acks === 0 ? null : produceErrorResponse(request, errorCode, OLD_MESSAGE_FORMAT))],
  [ApiKey.Fetch, (request, _version, errorCode) => fetchErrorResponse(request, errorCode)],
  [ApiKey.OffsetCommit, offsetCommitErrorResponse],
  [ApiKey.OffsetFetch, offsetFetchErrorResponse],
]);

/** The answer to a version we decode but do not serve: UNSUPPORTED_VERSION wherever the API carries errors. */
export function unsupportedVersionResponse(apiKey: number, request: MessageValue, version: number): MessageValue | null {
  const answer = errorAnswers.get(apiKey);
  if (!answer) throw new RivuletError('INVALID_REQUEST', `API key ${apiKey} has no unsupported-version answer`);
  return answer(request, version, ErrorCode.UNSUPPORTED_VERSION);
}
