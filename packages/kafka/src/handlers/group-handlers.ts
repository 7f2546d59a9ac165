import { AssertionError, ErrorCode, RivuletError } from '@rivulet/common';
import { asBuffer, coordinatorErrorCode, type WritePurpose, type JoinGroupResult, type LeaveGroupResult, type SyncGroupResult } from '@rivulet/broker';
import type { MessageValue } from '../schema/field.js';
import type { HandlerContext } from './handler-context.js';

/*
 * The classic group membership APIs (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), mapped field
 * by field onto the group coordinator (Broker.groups) and back, version by version. The rules
 * (generations, rebalances, session timeouts) are the coordinator's; what is Kafka's wire
 * protocol stays here: which fields a version has, what a missing one means, and the error
 * codes clients react to as Kafka's own broker answers them.
 */

// ---- shared by the group handlers ---------------------------------------------------------------

/**
 * The error code for a coordinator call that rejected, by the coordinator's own mapping of its
 * log's failures; anything but a RivuletError is a bug and propagates.
 */
export function coordinatorErrorOf(err: unknown, purpose: WritePurpose = 'membership'): number {
  if (err instanceof AssertionError || !(err instanceof RivuletError)) throw err;
  return coordinatorErrorCode(err, purpose);
}

/**
 * Bytes the coordinator keeps after the request (protocol metadata, assignments), copied out of
 * the request frame: the decoded field is a view that would keep the whole frame alive.
 */
export function ownedBytes(view: Buffer): Buffer {
  return Buffer.from(view);
}

const EMPTY = Buffer.alloc(0);

// ---- JoinGroup ---------------------------------------------------------------------------------

interface JoinGroupRequestBody {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  reason: string | null;
}

/** KIP-394: from v4 a new dynamic member first gets MEMBER_ID_REQUIRED with its id, then rejoins with it. */
const REQUIRE_KNOWN_MEMBER_ID_VERSION = 4;

/**
 * JoinGroup: a long poll, answered when the rebalance completes. v0 has no rebalance timeout
 * (the session timeout serves as one, as in Kafka); v5 adds static membership, v8 a reason, v9
 * the static leader's skip-assignment flag; v7 answers the protocol type, and from v7 an unset
 * protocol name is null rather than ''.
 */
export async function handleJoinGroup(request: MessageValue, version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as JoinGroupRequestBody;
  if (body.groupId === '') return joinGroupResponse(version, joinGroupFailure(ErrorCode.INVALID_GROUP_ID, body.memberId));
  let result: JoinGroupResult;
  try {
    result = await context.broker.groups.joinGroup({
      groupId: body.groupId,
      sessionTimeoutMs: body.sessionTimeoutMs,
      rebalanceTimeoutMs: version === 0 ? body.sessionTimeoutMs : body.rebalanceTimeoutMs,
      memberId: body.memberId,
      groupInstanceId: body.groupInstanceId,
      protocolType: body.protocolType,
      protocols: body.protocols.map((p) => ({ name: p.name, metadata: ownedBytes(p.metadata) })),
      requireKnownMemberId: version >= REQUIRE_KNOWN_MEMBER_ID_VERSION,
      reason: body.reason,
      clientId: context.clientId,
      clientHost: context.clientHost,
    });
  } catch (err) {
    result = joinGroupFailure(coordinatorErrorOf(err), body.memberId);
  }
  return joinGroupResponse(version, result);
}

function joinGroupFailure(errorCode: number, memberId: string): JoinGroupResult {
  return { errorCode, errorMessage: null, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId, members: [] };
}

function joinGroupResponse(version: number, result: JoinGroupResult): MessageValue {
  return {
    throttleTimeMs: 0,
    errorCode: result.errorCode,
    generationId: result.generationId,
    protocolType: result.protocolType,
    protocolName: version >= 7 ? result.protocolName || null : (result.protocolName ?? ''),
    leader: result.leader,
    skipAssignment: result.skipAssignment,
    memberId: result.memberId,
    members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: asBuffer(m.metadata) })),
  };
}

// ---- SyncGroup ---------------------------------------------------------------------------------

interface SyncGroupRequestBody {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

const PROTOCOL_CHECKED_VERSION = 5;

/**
 * SyncGroup: the leader hands in every member's assignment, each member gets its own. From v5
 * the protocol type and name are mandatory (Kafka answers INCONSISTENT_GROUP_PROTOCOL without
 * them) and are answered back; before v5 the coordinator gets null for both.
 */
export async function handleSyncGroup(request: MessageValue, version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as SyncGroupRequestBody;
  if (body.groupId === '') return syncGroupResponse(syncGroupFailure(ErrorCode.INVALID_GROUP_ID));
  const isProtocolChecked = version >= PROTOCOL_CHECKED_VERSION;
  if (isProtocolChecked && (body.protocolType === null || body.protocolName === null)) return syncGroupResponse(syncGroupFailure(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
  let result: SyncGroupResult;
  try {
    result = await context.broker.groups.syncGroup({
      groupId: body.groupId,
      generationId: body.generationId,
      memberId: body.memberId,
      groupInstanceId: body.groupInstanceId,
      protocolType: isProtocolChecked ? body.protocolType : null,
      protocolName: isProtocolChecked ? body.protocolName : null,
      assignments: body.assignments.map((a) => ({ memberId: a.memberId, assignment: ownedBytes(a.assignment) })),
    });
  } catch (err) {
    result = syncGroupFailure(coordinatorErrorOf(err));
  }
  return syncGroupResponse(result);
}

function syncGroupFailure(errorCode: number): SyncGroupResult {
  return { errorCode, errorMessage: null, protocolType: null, protocolName: null, assignment: EMPTY };
}

function syncGroupResponse(result: SyncGroupResult): MessageValue {
  return { throttleTimeMs: 0, errorCode: result.errorCode, protocolType: result.protocolType, protocolName: result.protocolName, assignment: asBuffer(result.assignment) };
}

// ---- Heartbeat ---------------------------------------------------------------------------------

interface HeartbeatRequestBody {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

/**
 * Heartbeat: answered at once. While the group's partition is loading the answer is NONE, as
 * Kafka answers it: the member's session restarts when loading ends, and a client told to retry
 * would only heartbeat sooner.
 */
export async function handleHeartbeat(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as HeartbeatRequestBody;
  if (body.groupId === '') return Promise.resolve({ throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID });
  let errorCode: number;
  try {
    errorCode = context.broker.groups.heartbeat({ groupId: body.groupId, generationId: body.generationId, memberId: body.memberId, groupInstanceId: body.groupInstanceId }).errorCode;
  } catch (err) {
    errorCode = coordinatorErrorOf(err);
  }
  if (errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) errorCode = ErrorCode.NONE;
  return Promise.resolve({ throttleTimeMs: 0, errorCode });
}

// ---- LeaveGroup --------------------------------------------------------------------------------

interface LeaveGroupRequestBody {
  groupId: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; reason: string | null }[];
}

/** v3 (KIP-345) lets one request remove several members, static ones by instance id. */
const BATCHED_LEAVE_VERSION = 3;

/**
 * LeaveGroup: v0-2 name one member and answer one error code (the request's, else the member's,
 * as Kafka folds them); v3+ name several and answer each; v5 adds a reason per member.
 */
export async function handleLeaveGroup(request: MessageValue, version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as LeaveGroupRequestBody;
  const isBatched = version >= BATCHED_LEAVE_VERSION;
  let result: LeaveGroupResult;
  if (body.groupId === '') {
    result = { errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: null, members: [] };
  } else {
    const members = isBatched
      ? body.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, reason: m.reason }))
      : [{ memberId: body.memberId, groupInstanceId: null, reason: null }];
    try {
      result = await context.broker.groups.leaveGroup({ groupId: body.groupId, members });
    } catch (err) {
      result = { errorCode: coordinatorErrorOf(err), errorMessage: null, members: [] };
    }
  }
  if (isBatched) {
    return { throttleTimeMs: 0, errorCode: result.errorCode, members: result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: m.errorCode })) };
  }
  const memberError = result.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE;
  return { throttleTimeMs: 0, errorCode: result.errorCode !== ErrorCode.NONE ? result.errorCode : memberError };
}
