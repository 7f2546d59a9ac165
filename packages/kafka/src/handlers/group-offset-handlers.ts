import { ErrorCode, assert } from '@rivulet/common';
import type { OffsetCommitTopic, OffsetFetchResult } from '@rivulet/broker';
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

const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

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
  const answers = new Map<string, number>();
  const exists = partitionsThatExist(context, body.topics.map((t) => t.name));
  const topics: OffsetCommitTopic[] = [];
  for (const t of body.topics) {
    const partitions = t.partitions.filter((p) => {
      if (exists(t.name, p.partitionIndex)) return true;
      answers.set(partitionKey(t.name, p.partitionIndex), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      return false;
    });
    if (partitions.length === 0) continue;
    topics.push({
      name: t.name,
      partitions: partitions.map((p) => ({
        partitionIndex: p.partitionIndex,
        committedOffset: p.committedOffset,
        committedLeaderEpoch: p.committedLeaderEpoch,
        committedMetadata: p.committedMetadata,
      })),
    });
  }
  if (topics.length > 0) {
    try {
      const result = await context.broker.groups.commitOffsets({
        groupId: body.groupId,
        generationId: body.generationIdOrMemberEpoch,
        memberId: body.memberId,
        groupInstanceId: body.groupInstanceId,
        retentionTimeMs: body.retentionTimeMs,
        topics,
      });
      for (const t of result.topics) {
        for (const p of t.partitions) {
          const isUnknownGroup = p.errorCode === ErrorCode.GROUP_ID_NOT_FOUND && version < GROUP_ID_NOT_FOUND_VERSION;
          answers.set(partitionKey(t.name, p.partitionIndex), isUnknownGroup ? ErrorCode.ILLEGAL_GENERATION : p.errorCode);
        }
      }
    } catch (err) {
      const errorCode = coordinatorErrorOf(err);
      for (const t of topics) for (const p of t.partitions) answers.set(partitionKey(t.name, p.partitionIndex), errorCode);
    }
  }
  return {
    throttleTimeMs: 0,
    topics: body.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: answers.get(partitionKey(t.name, p.partitionIndex)) ?? ErrorCode.UNKNOWN_SERVER_ERROR })),
    })),
  };
}

/** Whether a topic-partition exists, for the topics a request names (one look at the metadata). */
function partitionsThatExist(context: HandlerContext, names: string[]): (topic: string, partition: number) => boolean {
  const unique = [...new Set(names)];
  // describeTopics([]) describes every topic: ask only when the request names some.
  const described = unique.length === 0 ? [] : context.broker.describeTopics(unique);
  const known = new Set(described.filter((d) => d.errorCode === ErrorCode.NONE).flatMap((d) => d.partitions.map((p) => partitionKey(d.name, p.partition))));
  return (topic, partition) => known.has(partitionKey(topic, partition));
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
    return { errorCode: coordinatorErrorOf(err), topics: [] };
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
