import { ErrorCode, RivuletError, assert } from '@rivulet/common';
import type { FetchPartitionResponse, FetchResponse } from '@rivulet/broker';
import type { MessageValue } from '../schema/field.js';
import type { HandlerContext } from './handler-context.js';

interface FetchRequestBody {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  sessionId: number;
  sessionEpoch: number;
  topics: { topic: string; partitions: { partition: number; currentLeaderEpoch: number; fetchOffset: number; partitionMaxBytes: number }[] }[];
}

const READ_COMMITTED = 1;
/** -1 asks for a session-less full fetch; 0 asks to open a session, which we decline. */
const SESSION_EPOCH_FINAL = -1;
const SESSION_EPOCH_INITIAL = 0;
const LEADER_ERRORS = new Set<number>([ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH]);

/**
 * Fetch: a long poll on the broker (max wait, min bytes), aborted when the connection closes.
 * Fetch sessions (KIP-227) are declined: every answer carries session id 0, which tells the
 * client to keep sending full requests. read_committed is served as read_uncommitted, since
 * there are no transactions; the last stable offset is then the high watermark.
 */
export async function handleFetch(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as FetchRequestBody;
  const sessionError = sessionErrorOf(body);
  if (sessionError !== ErrorCode.NONE) return { throttleTimeMs: 0, errorCode: sessionError, sessionId: 0, responses: [] };
  const topics = body.topics.map((t) => ({
    name: t.topic,
    partitions: t.partitions.map((p) => ({ partition: p.partition, fetchOffset: p.fetchOffset, partitionMaxBytes: p.partitionMaxBytes, currentLeaderEpoch: p.currentLeaderEpoch })),
  }));
  let response: FetchResponse;
  try {
    response = await context.broker.fetch({ maxWaitMs: body.maxWaitMs, minBytes: body.minBytes, maxBytes: Math.max(0, body.maxBytes), topics }, context.signal);
  } catch (err) {
    if (!(err instanceof RivuletError)) throw err;
    return fetchErrorResponse(request, err.code);
  }
  const isReadCommitted = body.isolationLevel === READ_COMMITTED;
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: response.topics.map((t) => ({ topic: t.name, partitions: t.partitions.map((p) => fetchPartition(p, isReadCommitted)) })),
  };
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
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, errorCode, highWatermark: -1, records: null })),
    })),
  };
}
