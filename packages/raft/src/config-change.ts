import { assert, AssertionError, asNodeId } from '@rivulet/common';
import type { NodeId } from '@rivulet/common';
import type { ConfState } from './types.js';

/**
 * Membership changes one server at a time (thesis §4.1): any majority of the old voters
 * and any majority of the new voters overlap, so no joint consensus is needed as long as
 * a change is fully applied before the next one is proposed.
 * - add-learner: the node receives the log but does not vote (catch up before promotion);
 * - add-voter: a new voter, or a learner promoted;
 * - remove-node: the node leaves, whatever its role.
 */
export const ConfigChangeType = { AddVoter: 'add-voter', AddLearner: 'add-learner', RemoveNode: 'remove-node' } as const;
export type ConfigChangeType = (typeof ConfigChangeType)[keyof typeof ConfigChangeType];

export interface ConfigChange {
  readonly type: ConfigChangeType;
  readonly nodeId: NodeId;
}

const typeCodes: readonly ConfigChangeType[] = [ConfigChangeType.AddVoter, ConfigChangeType.AddLearner, ConfigChangeType.RemoveNode];

/** Wire form inside a config-change entry: one type byte, then the node id as uint32 big-endian. */
export function encodeConfigChange(change: ConfigChange): Uint8Array {
  const bytes = new Uint8Array(5);
  const code = typeCodes.indexOf(change.type);
  assert(code >= 0, `unknown config change type ${change.type}`);
  bytes[0] = code;
  new DataView(bytes.buffer).setUint32(1, change.nodeId);
  return bytes;
}

export function decodeConfigChange(data: Uint8Array): ConfigChange {
  if (data.byteLength !== 5) throw new AssertionError(`config change must be 5 bytes, got ${data.byteLength}`);
  const type = typeCodes[data[0] ?? 255];
  if (type === undefined) throw new AssertionError(`unknown config change type code ${data[0]}`);
  return { type, nodeId: asNodeId(new DataView(data.buffer, data.byteOffset, 5).getUint32(1)) };
}

/** Why `change` cannot apply to `confState`, or null when it can. */
export function invalidConfigChangeReason(confState: ConfState, change: ConfigChange): string | null {
  const isVoter = confState.voters.includes(change.nodeId);
  const isLearner = confState.learners.includes(change.nodeId);
  switch (change.type) {
    case ConfigChangeType.AddVoter:
      return isVoter ? `node ${change.nodeId} is already a voter` : null;
    case ConfigChangeType.AddLearner:
      if (isVoter) return `node ${change.nodeId} is a voter; demotion is not supported`;
      return isLearner ? `node ${change.nodeId} is already a learner` : null;
    case ConfigChangeType.RemoveNode:
      if (!isVoter && !isLearner) return `node ${change.nodeId} is not a member`;
      return isVoter && confState.voters.length === 1 ? 'cannot remove the last voter' : null;
  }
}

/**
 * The membership after `change`. A change that no longer applies (it was valid when
 * proposed, but the driver replays it after a snapshot already containing it) changes
 * nothing, so replay is idempotent.
 */
export function applyConfigChangeTo(confState: ConfState, change: ConfigChange): ConfState {
  if (invalidConfigChangeReason(confState, change) !== null) return confState;
  const voters = confState.voters.filter((id) => id !== change.nodeId);
  const learners = confState.learners.filter((id) => id !== change.nodeId);
  if (change.type === ConfigChangeType.AddVoter) voters.push(change.nodeId);
  if (change.type === ConfigChangeType.AddLearner) learners.push(change.nodeId);
  voters.sort((a, b) => a - b);
  learners.sort((a, b) => a - b);
  assert(voters.length > 0, 'a configuration always has a voter');
  return { voters, learners };
}
