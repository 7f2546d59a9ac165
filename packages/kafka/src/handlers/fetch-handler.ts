import { ErrorCode, RivuletError, assert } from '@rivulet/common';
import type { FetchPartitionResponse, FetchResponse } from '@rivulet/broker';
import type { MessageValue } from '../schema/field.js';
import type { HandlerContext } from './handler-context.js';
import { topicIdBytes, topicIdText } from './topic-ids.js';

interface FetchRequestBody {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  sessionId: number;
  sessionEpoch: number;
  topics: { topic: string; topicId: Buffer; partitions: { partition: number; currentLeaderEpoch: number; fetchOffset: number; partitionMaxBytes: number }[] }[];
}

/** Fetch v13+ names topics by id instead of by name. */
const TOPIC_IDS_VERSION = 13;

const READ_COMMITTED = 1;
/** -1 asks for a session-less full fetch; 0 asks to open a session, which we decline. */
const SESSION_EPOCH_FINAL = -1;
const SESSION_EPOCH_INITIAL = 0;
const LEADER_ERRORS = new Set<number>([ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH]);

/**
 * Fetch: a long poll on the broker (max wait, min bytes), aborted when the connection closes.
 * Fetch sessions (KIP-227) are declined: every answer carries session id 0, which tells the
 * client to keep sending full requests. read_committed is served as read_uncommitted, since
 * there are no transactions; the last stable offset is then the high watermark. From v13 on
 * topics travel as ids; an id this broker does not know is answered UNKNOWN_TOPIC_ID.
 */
export async function handleFetch(request: MessageValue, version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as FetchRequestBody;
  const sessionError = sessionErrorOf(body);
  if (sessionError !== ErrorCode.NONE) return { throttleTimeMs: 0, errorCode: sessionError, sessionId: 0, responses: [] };
  const usesTopicIds = version >= TOPIC_IDS_VERSION;
  const known = body.topics.map((t) => ({ requested: t, name: usesTopicIds ? context.broker.topicNameById(topicIdText(t.topicId) ?? '') : t.topic }));
  const topics = known.flatMap(({ requested, name }) =>
    name === undefined
      ? []
      : [
          {
            name,
            partitions: requested.partitions.map((p) => ({ partition: p.partition, fetchOffset: p.fetchOffset, partitionMaxBytes: p.partitionMaxBytes, currentLeaderEpoch: p.currentLeaderEpoch })),
          },
        ],
  );
  let response: FetchResponse = { topics: [] };
  if (topics.length > 0) {
    try {
      response = await context.broker.fetch({ maxWaitMs: body.maxWaitMs, minBytes: body.minBytes, maxBytes: Math.max(0, body.maxBytes), topics }, context.signal);
    } catch (err) {
      if (!(err instanceof RivuletError)) throw err;
      return fetchErrorResponse(request, err.code);
    }
  }
  const isReadCommitted = body.isolationLevel === READ_COMMITTED;
  const answered = response.topics.map((t) => ({
    topic: t.name,
    topicId: topicIdBytes(context.broker.topicIdOf(t.name)),
    partitions: t.partitions.map((p) => fetchPartition(p, isReadCommitted)),
  }));
  // In request order, with the topics of unknown ids where the client put them.
  let next = 0;
  const responses = known.map(({ requested, name }) =>
    name !== undefined
      ? answered[next++]!
      : {
          topic: '',
          topicId: requested.topicId,
          partitions: requested.partitions.map((p) => ({ partitionIndex: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, highWatermark: -1, records: null })),
        },
  );
  return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses };
}

function sessionErrorOf(body: FetchRequestBody): number {
  if (body.sessionId !== 0) return ErrorCode.FETCH_SESSION_ID_NOT_FOUND;
  if (body.sessionEpoch !== SESSION_EPOCH_FINAL && body.sessionEpoch !== SESSION_EPOCH_INITIAL) return ErrorCode.INVALID_FETCH_SESSION_EPOCH;
  return ErrorCode.NONE;
}

function fetchPartition(p: FetchPartitionResponse, isReadCommitted: boolean): MessageValue {
  const hasLeaderHint = LEADER_ERRORS.has(p.errorCode) && p.leaderId >= 0;
  return {
    partitionIndex: p.partition,
    errorCode: p.errorCode,
    highWatermark: p.highWatermark,
    lastStableOffset: p.highWatermark,
    logStartOffset: p.logStartOffset,
    // Leader discovery (KIP-951): tells a v12+ client where to go without a metadata round trip.
    ...(hasLeaderHint ? { currentLeader: { leaderId: p.leaderId, leaderEpoch: -1 } } : {}),
    abortedTransactions: isReadCommitted ? [] : null,
    preferredReadReplica: -1,
    records: p.records,
  };
}

/** Every partition of the request answered with one error code. */
export function fetchErrorResponse(request: MessageValue, errorCode: number): MessageValue {
  assert(errorCode !== ErrorCode.NONE, 'an error response carries an error');
  const body = request as unknown as FetchRequestBody;
  return {
    throttleTimeMs: 0,
    errorCode,
    sessionId: 0,
    responses: body.topics.map((t) => ({
      topic: t.topic,
      topicId: t.topicId,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, errorCode, highWatermark: -1, records: null })),
    })),
  };
}
