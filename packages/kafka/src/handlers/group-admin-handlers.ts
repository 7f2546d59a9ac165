import { ErrorCode } from '@rivulet/common';
import { asBuffer, type DeletedGroup, type GroupDescription, type GroupListing, type GroupState } from '@rivulet/broker';
import { AUTHORIZED_OPERATIONS_OMITTED } from '../schema/api-table.js';
import type { MessageValue } from '../schema/field.js';
import { coordinatorErrorOf } from './group-handlers.js';
import type { HandlerContext } from './handler-context.js';

/*
 * The group administration APIs (DescribeGroups, ListGroups, DeleteGroups), as Kafka's admin
 * tools and clients use them, mapped onto the group coordinator (Broker.groups). Each answers
 * only for the groups whose coordinator is this broker; admin clients ask every coordinator.
 */

/** Kafka's ACL operation codes, as bits of an authorized-operations field. */
const AclOperation = { READ: 3, DELETE: 6, DESCRIBE: 8 } as const;

/**
 * What a client may do with a group, with no authorizer: everything Kafka supports on groups
 * but their configs, which cannot be set here.
 */
const GROUP_AUTHORIZED_OPERATIONS = (1 << AclOperation.READ) | (1 << AclOperation.DELETE) | (1 << AclOperation.DESCRIBE);

/** Every group is a classic group (KIP-848's consumer groups do not exist here). */
const CLASSIC_GROUP_TYPE = 'classic';

interface DescribeGroupsRequestBody {
  groups: string[];
  includeAuthorizedOperations: boolean;
}

/**
 * DescribeGroups: state, protocol and members of each group; an unknown group is described as
 * Dead without an error, as Kafka does. v3+ answers the authorized operations when asked (and
 * AUTHORIZED_OPERATIONS_OMITTED otherwise), v4+ the members' instance ids.
 */
export async function handleDescribeGroups(request: MessageValue, version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as DescribeGroupsRequestBody;
  const includeOperations = version >= 3 && body.includeAuthorizedOperations;
  let groups: MessageValue[];
  try {
    const described = body.groups.length === 0 ? [] : context.broker.groups.describeGroups(body.groups);
    groups = described.map((g) => describedGroup(g, includeOperations));
  } catch (err) {
    const errorCode = coordinatorErrorOf(err, 'deletion');
    groups = body.groups.map((groupId) => ({ errorCode, groupId, groupState: '', protocolType: '', protocolData: '', members: [] }));
  }
  return Promise.resolve({ throttleTimeMs: 0, groups });
}

function describedGroup(g: GroupDescription, includeOperations: boolean): MessageValue {
  return {
    errorCode: g.errorCode,
    groupId: g.groupId,
    groupState: g.groupState,
    protocolType: g.protocolType,
    protocolData: g.protocolData,
    members: g.members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      memberMetadata: asBuffer(m.memberMetadata),
      memberAssignment: asBuffer(m.memberAssignment),
    })),
    authorizedOperations: includeOperations && g.errorCode === ErrorCode.NONE ? GROUP_AUTHORIZED_OPERATIONS : AUTHORIZED_OPERATIONS_OMITTED,
  };
}

interface ListGroupsRequestBody {
  statesFilter: string[];
  typesFilter: string[];
}

const GROUP_STATES: readonly GroupState[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'];

/** A state as a filter names it: Kafka compares trimmed and lower-cased; underscores are ignored too. */
const stateKey = (state: string): string => state.trim().toLowerCase().replace(/_/g, '');

/**
 * ListGroups: the groups this broker coordinates. v4 (KIP-518) filters by state, v5 (KIP-848)
 * by group type; both filters compare without case, as Kafka does, and an empty filter means no
 * filter. States also match without underscores, which Kafka does not do: @platformatic/kafka
 * names them PREPARING_REBALANCE and so on. v4 answers each group's state, v5 its type
 * ("classic").
 */
export async function handleListGroups(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as ListGroupsRequestBody;
  const answer = (groups: GroupListing[], errorCode: number = ErrorCode.NONE): Promise<MessageValue> =>
    Promise.resolve({
      throttleTimeMs: 0,
      errorCode,
      groups: groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.groupState, groupType: CLASSIC_GROUP_TYPE })),
    });
  // Absent fields decode as empty lists, so versions without filters filter nothing.
  if (body.typesFilter.length > 0 && !body.typesFilter.some((t) => t.toLowerCase() === CLASSIC_GROUP_TYPE)) return answer([]);
  let states: GroupState[] | null = null;
  if (body.statesFilter.length > 0) {
    const wanted = new Set(body.statesFilter.map(stateKey));
    states = GROUP_STATES.filter((s) => wanted.has(stateKey(s)));
    if (states.length === 0) return answer([]);
  }
  try {
    return answer(context.broker.groups.listGroups(states));
  } catch (err) {
    return answer([], coordinatorErrorOf(err, 'deletion'));
  }
}

interface DeleteGroupsRequestBody {
  groupsNames: string[];
}

/** DeleteGroups: each named group (duplicates answered once, as Kafka does) with its own error. */
export async function handleDeleteGroups(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as DeleteGroupsRequestBody;
  const groupIds = [...new Set(body.groupsNames)];
  let results: DeletedGroup[];
  try {
    results = groupIds.length === 0 ? [] : await context.broker.groups.deleteGroups(groupIds);
  } catch (err) {
    const errorCode = coordinatorErrorOf(err, 'deletion');
    results = groupIds.map((groupId) => ({ groupId, errorCode }));
  }
  return { throttleTimeMs: 0, results: results.map((r) => ({ groupId: r.groupId, errorCode: r.errorCode })) };
}
