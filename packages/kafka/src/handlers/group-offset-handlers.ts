import { ErrorCode, assert } from '@rivulet/common';
import type { OffsetFetchResult } from '@rivulet/broker';
import type { MessageValue } from '../schema/field.js';
import { coordinatorErrorOf } from './group-handlers.js';
import type { HandlerContext } from './handler-context.js';

/*
 * OffsetCommit and OffsetFetch, mapped onto the group coordinator (Broker.groups). Version 0 of
 * both kept offsets in ZooKeeper, not in the group's log; Kafka without ZooKeeper answers them
 * UNSUPPORTED_VERSION, and so do we (see request-router.ts), through the error answers below.
 */

interface OffsetCommitRequestBody {
  groupId: string;
  generationIdOrMemberEpoch: number;
  memberId: string;
  groupInstanceId: string | null;
  retentionTimeMs: number;
  topics: {
    name: string;
    partitions: { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; committedMetadata: string | null }[];
  }[];
}

/** OffsetCommit v9 is the first to answer GROUP_ID_NOT_FOUND; older versions expect ILLEGAL_GENERATION for an unknown group. */
const GROUP_ID_NOT_FOUND_VERSION = 9;

/**
 * OffsetCommit: partitions of topics that do not exist are answered UNKNOWN_TOPIC_OR_PARTITION
 * here, as Kafka's request handler answers them, and never reach the coordinator. Per version:
 * v1+ generation and member id (-1 and '' commit from outside group management), v1 a commit
 * timestamp per partition (ignored: the coordinator stamps commits with its own clock, and
 * KafkaJS and librdkafka send -1), v2-4 a retention time, v6+ the leader epoch of the committed
 * offset, v7+ the static member's instance id. v9 is served with classic semantics: its
 * GenerationIdOrMemberEpoch is the generation.
 */
export async function handleOffsetCommit(request: MessageValue, version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as OffsetCommitRequestBody;
  const result = await context.broker.commitGroupOffsets({
    groupId: body.groupId,
    generationId: body.generationIdOrMemberEpoch,
    memberId: body.memberId,
    groupInstanceId: body.groupInstanceId,
    retentionTimeMs: body.retentionTimeMs,
    topics: body.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        committedOffset: p.committedOffset,
        committedLeaderEpoch: p.committedLeaderEpoch,
        committedMetadata: p.committedMetadata,
      })),
    })),
  });
  const isUnknownGroupAnswer = version < GROUP_ID_NOT_FOUND_VERSION;
  return {
    throttleTimeMs: 0,
    topics: result.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        errorCode: isUnknownGroupAnswer && p.errorCode === ErrorCode.GROUP_ID_NOT_FOUND ? ErrorCode.ILLEGAL_GENERATION : p.errorCode,
      })),
    })),
  };
}

/** Every partition of an OffsetCommit request answered with one error code. */
export function offsetCommitErrorResponse(request: MessageValue, _version: number, errorCode: number): MessageValue {
  assert(errorCode !== ErrorCode.NONE, 'an error response carries an error');
  const body = request as unknown as OffsetCommitRequestBody;
  return {
    throttleTimeMs: 0,
    topics: body.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })),
  };
}

interface OffsetFetchTopicBody {
  name: string;
  partitionIndexes: number[];
}

interface OffsetFetchRequestBody {
  groupId: string;
  topics: OffsetFetchTopicBody[] | null;
  groups: { groupId: string; memberId: string | null; memberEpoch: number; topics: OffsetFetchTopicBody[] | null }[];
  requireStable: boolean;
}

/** v2 adds the top-level error code (before it, group errors travel on every partition) and null topics for "all". */
const GROUP_ERROR_VERSION = 2;
/** v8 fetches the offsets of several groups, each answered on its own. */
const BATCHED_GROUPS_VERSION = 8;

/**
 * OffsetFetch: the committed offsets of the named partitions, or (null topics, v2+) of every
 * partition the group has committed. v5+ answers the committed leader epoch, v7 adds
 * requireStable, v8 several groups per request. v9's member id and epoch belong to KIP-848's
 * consumer groups; a classic group ignores them, as Kafka's does.
 */
export async function handleOffsetFetch(request: MessageValue, version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as OffsetFetchRequestBody;
  if (version >= BATCHED_GROUPS_VERSION) {
    const groups = body.groups.map((g) => {
      const result = fetchGroupOffsets(context, g.groupId, g.topics, body.requireStable);
      return { groupId: g.groupId, topics: fetchedTopics(result), errorCode: result.errorCode };
    });
    return Promise.resolve({ throttleTimeMs: 0, groups });
  }
  const result = fetchGroupOffsets(context, body.groupId, body.topics, body.requireStable);
  if (version < GROUP_ERROR_VERSION && result.errorCode !== ErrorCode.NONE) return Promise.resolve(offsetFetchErrorResponse(request, version, result.errorCode));
  return Promise.resolve({ throttleTimeMs: 0, topics: fetchedTopics(result), errorCode: result.errorCode });
}

function fetchGroupOffsets(context: HandlerContext, groupId: string, topics: OffsetFetchTopicBody[] | null, requireStable: boolean): OffsetFetchResult {
  try {
    return context.broker.groups.fetchOffsets({
      groupId,
      topics: topics === null ? null : topics.map((t) => ({ name: t.name, partitionIndexes: t.partitionIndexes })),
      requireStable,
    });
  } catch (err) {
    return { errorCode: coordinatorErrorOf(err, 'offsets'), topics: [] };
  }
}

function fetchedTopics(result: OffsetFetchResult): MessageValue[] {
  return result.topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({
      partitionIndex: p.partitionIndex,
      committedOffset: p.committedOffset,
      committedLeaderEpoch: p.committedLeaderEpoch,
      metadata: p.metadata,
      errorCode: p.errorCode,
    })),
  }));
}

/**
 * An OffsetFetch answered with one error code: before v2 on every asked partition (offset -1,
 * metadata ''), as Kafka answers, then in the top-level code, from v8 in each group's.
 */
export function offsetFetchErrorResponse(request: MessageValue, version: number, errorCode: number): MessageValue {
  assert(errorCode !== ErrorCode.NONE, 'an error response carries an error');
  const body = request as unknown as OffsetFetchRequestBody;
  if (version >= BATCHED_GROUPS_VERSION) return { throttleTimeMs: 0, groups: body.groups.map((g) => ({ groupId: g.groupId, topics: [], errorCode })) };
  if (version >= GROUP_ERROR_VERSION) return { throttleTimeMs: 0, topics: [], errorCode };
  return {
    throttleTimeMs: 0,
    topics: (body.topics ?? []).map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode })),
    })),
  };
}
