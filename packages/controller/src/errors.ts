import { RivuletError } from '@rivulet/common';
import type { NodeId } from '@rivulet/common';

/** This member is not the Raft leader; `leaderId` names the leader when known. Retriable there. */
export class NotControllerError extends RivuletError {
  override readonly name = 'NotControllerError';
  readonly leaderId: NodeId | null;

  constructor(leaderId: NodeId | null, reason: string) {
    super('NOT_CONTROLLER', `not the controller leader (${reason})${leaderId === null ? '' : `; leader is ${leaderId}`}`, leaderId === null ? {} : { leaderId });
    this.leaderId = leaderId;
  }
}

/**
 * A proposal or read whose outcome this member could not observe in time: leadership moved,
 * the entry was overwritten or skipped by a snapshot, or the deadline passed. A proposal may
 * or may not have been committed; callers must make it idempotent or read back.
 */
export class RaftOutcomeUnknownError extends RivuletError {
  override readonly name = 'RaftOutcomeUnknownError';

  constructor(message: string) {
    super('REQUEST_TIMED_OUT', message);
  }
}
