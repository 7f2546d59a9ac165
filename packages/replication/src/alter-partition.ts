/**
 * The leader's side of AlterPartition (KIP-497): the proposal it sends the controller, and
 * what each refusal means for it. The classification follows Kafka's
 * Partition.handleAlterPartitionError, with one strengthening: answers that say this broker
 * is no longer the leader (a fenced leader epoch, a stale broker registration, a new leader,
 * a deleted topic) fence the state outright instead of leaving it to the next metadata update.
 */
import { ErrorCode, assert } from '@rivulet/common';

/**
 * An ISR change the leader asks the controller to commit. It is fenced by both epochs: the
 * controller refuses it unless `leaderEpoch` and `partitionEpoch` are the ones it holds.
 * `newIsr` always contains the leader and is sorted by replica id.
 */
export interface AlterPartitionProposal {
  readonly kind: 'shrink' | 'expand';
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly newIsr: readonly number[];
  /** The followers the proposal removes (shrink) or adds (expand). */
  readonly changedReplicaIds: readonly number[];
}

/**
 * What the leader does after the controller refused its proposal.
 *
 * - `retry`: a transient failure (no controller, timeout, the controller's metadata lags).
 *   The proposal stays pending; send the same one again after a backoff.
 * - `reset`: the controller certifies it did not apply the proposal and our partition epoch
 *   is current (INELIGIBLE_REPLICA). The pending change is dropped; a new one may follow.
 * - `await-metadata`: our view is stale (INVALID_UPDATE_VERSION, INVALID_REQUEST). The
 *   proposal stays pending, which blocks further proposals and keeps the high watermark on
 *   the larger set, until the committed partition state arrives (`onIsrChangeCommitted`).
 * - `fenced`: this broker is no longer the partition's leader. Stop acting as leader: refuse
 *   produce and follower fetches, propose nothing, and wait for metadata to make it a follower.
 */
export type IsrChangeRejection = 'retry' | 'reset' | 'await-metadata' | 'fenced';

const FENCING_CODES: ReadonlySet<number> = new Set([
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.STALE_BROKER_EPOCH,
  ErrorCode.NEW_LEADER_ELECTED,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.UNKNOWN_TOPIC_ID,
]);

const STALE_VIEW_CODES: ReadonlySet<number> = new Set([ErrorCode.INVALID_UPDATE_VERSION, ErrorCode.INVALID_REQUEST]);

/** Classifies an AlterPartition error code; codes not listed (transport, NOT_CONTROLLER…) are retried. */
export function classifyIsrChangeRejection(errorCode: number): IsrChangeRejection {
  assert(errorCode !== ErrorCode.NONE, 'an AlterPartition rejection carries an error code');
  if (FENCING_CODES.has(errorCode)) return 'fenced';
  if (STALE_VIEW_CODES.has(errorCode)) return 'await-metadata';
  if (errorCode === ErrorCode.INELIGIBLE_REPLICA) return 'reset';
  return 'retry';
}
