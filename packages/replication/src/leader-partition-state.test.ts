// The leader side of one partition, rule by rule (Kafka's Partition.scala / Replica.scala).
import { AssertionError, ErrorCode, RivuletError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { classifyIsrChangeRejection } from './alter-partition.js';
import { LeaderPartitionState, UNKNOWN_OFFSET } from './leader-partition-state.js';
import type { FollowerFetch, LeaderPartitionConfig } from './leader-partition-state.js';

const LAG_MAX_MS = 10_000;

function leader(overrides: Partial<LeaderPartitionConfig> = {}): LeaderPartitionState {
  return new LeaderPartitionState({
    leaderId: 1,
    leaderEpoch: 5,
    partitionEpoch: 7,
    replicas: [1, 2, 3],
    isr: [1, 2, 3],
    logEndOffset: 100,
    highWatermark: 100,
    replicaLagTimeMaxMs: LAG_MAX_MS,
    minInsyncReplicas: 2,
    nowMs: 0,
    ...overrides,
  });
}

const fetch = (followerId: number, fetchOffset: number, nowMs: number, leaderEpoch = 5): FollowerFetch => ({
  followerId,
  leaderEpoch,
  fetchOffset,
  followerLogStartOffset: 0,
  nowMs,
});

function errorNameOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (err) {
    if (err instanceof RivuletError) return err.errorName;
    throw err;
  }
  return undefined;
}

describe('construction', () => {
  it('crashes on an impossible partition state', () => {
    expect(() => leader({ isr: [2, 3] })).toThrow(AssertionError);
    expect(() => leader({ isr: [1, 4] })).toThrow(AssertionError);
    expect(() => leader({ replicas: [2, 3] })).toThrow(AssertionError);
    expect(() => leader({ highWatermark: 101 })).toThrow(AssertionError);
    expect(() => leader({ minInsyncReplicas: 0 })).toThrow(AssertionError);
  });

  it('starts with followers unknown and ISR members caught up as of now', () => {
    const state = leader({ isr: [1, 2], nowMs: 500 });
    expect(state.followerProgress(2)).toMatchObject({ logEndOffset: UNKNOWN_OFFSET, lastCaughtUpTimeMs: 500 });
    expect(state.followerProgress(3)).toMatchObject({ logEndOffset: UNKNOWN_OFFSET, lastCaughtUpTimeMs: Number.NEGATIVE_INFINITY });
    expect(state.followerProgress(1)).toBeUndefined();
  });
});

describe('follower fetch validation', () => {
  it('refuses an older leader epoch with FENCED_LEADER_EPOCH and a newer one with UNKNOWN_LEADER_EPOCH', () => {
    const state = leader();
    expect(errorNameOf(() => state.onFollowerFetch(fetch(2, 100, 1, 4)))).toBe('FENCED_LEADER_EPOCH');
    expect(errorNameOf(() => state.onFollowerFetch(fetch(2, 100, 1, 6)))).toBe('UNKNOWN_LEADER_EPOCH');
  });

  it('refuses a replica outside the assignment with UNKNOWN_LEADER_EPOCH, as Kafka for epoch-carrying fetches', () => {
    const state = leader();
    expect(errorNameOf(() => state.onFollowerFetch(fetch(9, 100, 1)))).toBe('UNKNOWN_LEADER_EPOCH');
    expect(errorNameOf(() => state.onFollowerFetch(fetch(1, 100, 1)))).toBe('UNKNOWN_LEADER_EPOCH');
  });

  it('refuses a fetch offset past the log end with OFFSET_OUT_OF_RANGE', () => {
    const state = leader();
    expect(errorNameOf(() => state.onFollowerFetch(fetch(2, 101, 1)))).toBe('OFFSET_OUT_OF_RANGE');
    expect(errorNameOf(() => state.onFollowerFetch(fetch(2, -1, 1)))).toBe('OFFSET_OUT_OF_RANGE');
  });

  it('records nothing from a refused fetch', () => {
    const state = leader();
    errorNameOf(() => state.onFollowerFetch(fetch(2, 101, 1)));
    expect(state.followerProgress(2)?.logEndOffset).toBe(UNKNOWN_OFFSET);
  });
});

describe('caught-up time (Replica.updateFetchStateOrThrow)', () => {
  it('a fetch at the current log end means caught up now', () => {
    const state = leader();
    state.onFollowerFetch(fetch(2, 100, 1_000));
    expect(state.followerProgress(2)?.lastCaughtUpTimeMs).toBe(1_000);
  });

  it("a fetch at the leader's log end as of the previous fetch means caught up as of that fetch", () => {
    const state = leader({ nowMs: 0 });
    state.onFollowerFetch(fetch(2, 90, 1_000)); // the leader was at 100
    state.onLeaderAppend(120);
    state.onFollowerFetch(fetch(2, 100, 2_000)); // reached 100, the leader's end at 1 000
    expect(state.followerProgress(2)?.lastCaughtUpTimeMs).toBe(1_000);
  });

  it('a fetch short of both keeps the old caught-up time', () => {
    const state = leader({ nowMs: 0 });
    state.onFollowerFetch(fetch(2, 90, 1_000));
    state.onFollowerFetch(fetch(2, 95, 2_000));
    expect(state.followerProgress(2)?.lastCaughtUpTimeMs).toBe(0);
  });
});

describe('high watermark', () => {
  it('is the leader log end when the ISR is the leader alone', () => {
    const state = leader({ isr: [1], highWatermark: 100 });
    expect(state.onLeaderAppend(130)).toEqual({ highWatermark: 130, isHighWatermarkAdvanced: true });
  });

  it('waits for every ISR member, including those that have not fetched yet', () => {
    const state = leader({ highWatermark: 80 });
    state.onLeaderAppend(120);
    expect(state.onFollowerFetch(fetch(2, 110, 1)).highWatermark).toBe(80);
    expect(state.onFollowerFetch(fetch(3, 105, 1))).toEqual({ highWatermark: 105, isHighWatermarkAdvanced: true });
    expect(state.onFollowerFetch(fetch(3, 120, 2))).toEqual({ highWatermark: 110, isHighWatermarkAdvanced: true });
  });

  it('ignores followers outside the ISR', () => {
    const state = leader({ isr: [1, 2], highWatermark: 100 });
    state.onLeaderAppend(120);
    state.onFollowerFetch(fetch(3, 0, 1));
    expect(state.onFollowerFetch(fetch(2, 120, 1)).highWatermark).toBe(120);
  });

  it('never moves back, even when a member reports a lower log end', () => {
    const state = leader({ isr: [1, 2], highWatermark: 100 });
    state.onLeaderAppend(120);
    state.onFollowerFetch(fetch(2, 120, 1));
    expect(state.onFollowerFetch(fetch(2, 110, 2))).toEqual({ highWatermark: 120, isHighWatermarkAdvanced: false });
  });

  it('crashes if the leader log end goes back', () => {
    const state = leader();
    expect(() => state.onLeaderAppend(99)).toThrow(AssertionError);
  });
});

describe('ISR shrink', () => {
  it('removes a member not caught up for longer than replica.lag.time.max.ms, not at exactly the limit', () => {
    const state = leader({ nowMs: 0 });
    state.onLeaderAppend(110);
    state.onFollowerFetch(fetch(2, 110, 5_000));
    expect(state.isrChangeWanted(LAG_MAX_MS)).toBeUndefined();
    expect(state.isrChangeWanted(LAG_MAX_MS + 1)).toEqual({
      kind: 'shrink',
      leaderId: 1,
      leaderEpoch: 5,
      partitionEpoch: 7,
      newIsr: [1, 2],
      changedReplicaIds: [3],
    });
  });

  it('keeps a member at the leader log end however long ago it caught up (an idle partition)', () => {
    const state = leader({ isr: [1, 2], nowMs: 0 });
    state.onFollowerFetch(fetch(2, 100, 1));
    expect(state.isrChangeWanted(10 * LAG_MAX_MS)).toBeUndefined();
  });

  it('removes a member that keeps fetching but never catches up', () => {
    const state = leader({ isr: [1, 2], nowMs: 0 });
    let leaderLogEndOffset = 100;
    for (let nowMs = 1_000; nowMs <= 12_000; nowMs += 1_000) {
      leaderLogEndOffset += 10;
      state.onLeaderAppend(leaderLogEndOffset);
      state.onFollowerFetch(fetch(2, 100 + (nowMs / 1_000) * 5, nowMs)); // 5 behind per second
    }
    expect(state.isrChangeWanted(12_000)?.newIsr).toEqual([1]);
  });
});

describe('ISR expansion', () => {
  it('adds a follower at or past both the high watermark and the start of this leader epoch', () => {
    const state = leader({ isr: [1, 2], highWatermark: 90, leaderEpochStartOffset: 95 });
    state.onFollowerFetch(fetch(2, 100, 1));
    state.onFollowerFetch(fetch(3, 94, 1));
    expect(state.highWatermark).toBe(100);
    expect(state.isrChangeWanted(1)).toBeUndefined();
    state.onFollowerFetch(fetch(3, 100, 2));
    expect(state.isrChangeWanted(2)).toMatchObject({ kind: 'expand', newIsr: [1, 2, 3], changedReplicaIds: [3] });
  });

  it('does not add a follower holding only the previous epoch, even at the high watermark', () => {
    // The high watermark (50) trails the epoch start (100): the follower at 60 lacks the
    // previous leader's records 60..99 that this leader may have committed.
    const state = leader({ isr: [1], highWatermark: 50, logEndOffset: 100, leaderEpochStartOffset: 100 });
    state.onFollowerFetch(fetch(2, 60, 1));
    expect(state.isrChangeWanted(1)).toBeUndefined();
  });

  it('skips replicas the broker says are ineligible (fenced or shutting down)', () => {
    const state = leader({ isr: [1] });
    state.onFollowerFetch(fetch(2, 100, 1));
    state.onFollowerFetch(fetch(3, 100, 1));
    expect(state.isrChangeWanted(1, (replicaId) => replicaId !== 3)?.newIsr).toEqual([1, 2]);
    expect(state.isrChangeWanted(1, () => false)).toBeUndefined();
  });
});

describe('one AlterPartition in flight', () => {
  it('proposes nothing more while a change is pending', () => {
    const state = leader({ nowMs: 0 });
    state.onLeaderAppend(110);
    const proposal = state.proposeIsrChange(LAG_MAX_MS + 1);
    expect(proposal?.kind).toBe('shrink');
    expect(state.pendingIsrChange).toEqual(proposal);
    expect(state.proposeIsrChange(LAG_MAX_MS + 2)).toBeUndefined();
  });

  it('keeps the high watermark on the old, larger ISR during a pending shrink', () => {
    const state = leader({ nowMs: 0 });
    state.onLeaderAppend(110);
    state.onFollowerFetch(fetch(2, 110, 5_000));
    const proposal = state.proposeIsrChange(LAG_MAX_MS + 1);
    expect(proposal?.newIsr).toEqual([1, 2]);
    expect(state.maximalIsr).toEqual([1, 2, 3]);
    expect(state.highWatermark).toBe(100);
    expect(state.onIsrChangeCommitted([1, 2], 8)).toEqual({ highWatermark: 110, isHighWatermarkAdvanced: true, isApplied: true });
    expect(state.isr).toEqual([1, 2]);
    expect(state.partitionEpoch).toBe(8);
    expect(state.pendingIsrChange).toBeUndefined();
  });

  it('waits for the joining replica during a pending expansion', () => {
    const state = leader({ isr: [1], highWatermark: 100 });
    state.onFollowerFetch(fetch(2, 100, 1));
    expect(state.proposeIsrChange(1)?.newIsr).toEqual([1, 2]);
    expect(state.maximalIsr).toEqual([1, 2]);
    expect(state.onLeaderAppend(120).highWatermark).toBe(100);
    expect(state.onFollowerFetch(fetch(2, 115, 2)).highWatermark).toBe(115);
  });

  it('ignores an older or repeated partition epoch, and crashes on two ISRs for one epoch', () => {
    const state = leader({ isr: [1, 2] });
    expect(state.onIsrChangeCommitted([1, 2, 3], 6).isApplied).toBe(false);
    expect(state.onIsrChangeCommitted([1, 2], 7).isApplied).toBe(false);
    expect(() => state.onIsrChangeCommitted([1, 3], 7)).toThrow(AssertionError);
    expect(state.isr).toEqual([1, 2]);
  });

  it('ignores an answer from an older leader epoch and fences itself on a newer one', () => {
    const state = leader({ isr: [1, 2] });
    expect(state.onIsrChangeCommitted([1], 9, 4).isApplied).toBe(false);
    expect(state.isFenced).toBe(false);
    expect(state.onIsrChangeCommitted([1, 2, 3], 9, 6).isApplied).toBe(false);
    expect(state.isFenced).toBe(true);
    expect(state.isr).toEqual([1, 2]);
  });

  it('applies a newer state the controller made itself, dropping the pending proposal', () => {
    const state = leader({ isr: [1, 2] });
    state.onFollowerFetch(fetch(3, 100, 1));
    expect(state.proposeIsrChange(1)?.kind).toBe('expand');
    expect(state.onIsrChangeCommitted([1], 8).isApplied).toBe(true);
    expect(state.pendingIsrChange).toBeUndefined();
    expect(state.isr).toEqual([1]);
  });
});

describe('AlterPartition refusals', () => {
  function pendingShrink(): LeaderPartitionState {
    const state = leader({ nowMs: 0 });
    state.onLeaderAppend(110);
    state.proposeIsrChange(LAG_MAX_MS + 1);
    return state;
  }

  it('classifies error codes as Kafka does', () => {
    expect(classifyIsrChangeRejection(ErrorCode.NOT_CONTROLLER)).toBe('retry');
    expect(classifyIsrChangeRejection(ErrorCode.REQUEST_TIMED_OUT)).toBe('retry');
    expect(classifyIsrChangeRejection(ErrorCode.INELIGIBLE_REPLICA)).toBe('reset');
    expect(classifyIsrChangeRejection(ErrorCode.INVALID_UPDATE_VERSION)).toBe('await-metadata');
    expect(classifyIsrChangeRejection(ErrorCode.INVALID_REQUEST)).toBe('await-metadata');
    expect(classifyIsrChangeRejection(ErrorCode.FENCED_LEADER_EPOCH)).toBe('fenced');
    expect(classifyIsrChangeRejection(ErrorCode.STALE_BROKER_EPOCH)).toBe('fenced');
    expect(classifyIsrChangeRejection(ErrorCode.UNKNOWN_TOPIC_ID)).toBe('fenced');
    expect(() => classifyIsrChangeRejection(ErrorCode.NONE)).toThrow(AssertionError);
  });

  it('retry keeps the proposal pending for a resend', () => {
    const state = pendingShrink();
    const proposal = state.pendingIsrChange!;
    expect(state.onIsrChangeRejected(ErrorCode.NOT_CONTROLLER, proposal)).toBe('retry');
    expect(state.pendingIsrChange).toEqual(proposal);
  });

  it('reset drops the proposal, so the next one may go', () => {
    const state = pendingShrink();
    expect(state.onIsrChangeRejected(ErrorCode.INELIGIBLE_REPLICA, state.pendingIsrChange!)).toBe('reset');
    expect(state.pendingIsrChange).toBeUndefined();
    expect(state.isr).toEqual([1, 2, 3]);
    expect(state.isrChangeWanted(LAG_MAX_MS + 2)?.kind).toBe('shrink');
  });

  it('await-metadata blocks proposals until a newer partition state arrives', () => {
    const state = pendingShrink();
    expect(state.onIsrChangeRejected(ErrorCode.INVALID_UPDATE_VERSION, state.pendingIsrChange!)).toBe('await-metadata');
    expect(state.isAwaitingMetadata).toBe(true);
    expect(state.isrChangeWanted(LAG_MAX_MS + 2)).toBeUndefined();
    state.onIsrChangeCommitted([1, 2, 3], 9);
    expect(state.isAwaitingMetadata).toBe(false);
    expect(state.isrChangeWanted(LAG_MAX_MS + 2)?.partitionEpoch).toBe(9);
  });

  it('fenced stops the leader: fetches, appends and proposals are refused', () => {
    const state = pendingShrink();
    expect(state.onIsrChangeRejected(ErrorCode.FENCED_LEADER_EPOCH, state.pendingIsrChange!)).toBe('fenced');
    expect(state.isFenced).toBe(true);
    expect(errorNameOf(() => state.onFollowerFetch(fetch(2, 110, 1)))).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(errorNameOf(() => state.checkEnoughReplicasForAppend())).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(state.isrChangeWanted(LAG_MAX_MS * 5)).toBeUndefined();
    expect(state.onIsrChangeCommitted([1, 2], 8).isApplied).toBe(false);
  });

  it('ignores an answer to a proposal that is no longer pending', () => {
    const state = pendingShrink();
    const stale = state.pendingIsrChange!;
    state.onIsrChangeCommitted([1, 2], 8); // the metadata log got there first
    state.onFollowerFetch(fetch(2, 110, LAG_MAX_MS + 2));
    state.onFollowerFetch(fetch(3, 110, LAG_MAX_MS + 2));
    const next = state.proposeIsrChange(LAG_MAX_MS + 2);
    expect(next?.kind).toBe('expand');
    expect(state.onIsrChangeRejected(ErrorCode.INELIGIBLE_REPLICA, stale)).toBe('ignored');
    expect(state.pendingIsrChange).toEqual(next);
  });
});

describe('acks=all', () => {
  it('refuses an append with NOT_ENOUGH_REPLICAS while the ISR is below min.insync.replicas', () => {
    expect(errorNameOf(() => leader({ isr: [1, 2] }).checkEnoughReplicasForAppend())).toBeUndefined();
    expect(errorNameOf(() => leader({ isr: [1] }).checkEnoughReplicasForAppend())).toBe('NOT_ENOUGH_REPLICAS');
  });

  it('completes once the high watermark passes the batch', () => {
    const state = leader({ isr: [1, 2] });
    state.onLeaderAppend(110);
    expect(state.isCommitted(109)).toBe(false);
    expect(state.acksAllCompletion(109)).toEqual({ isDone: false });
    state.onFollowerFetch(fetch(2, 110, 1));
    expect(state.isCommitted(109)).toBe(true);
    expect(state.isCommitted(110 - 1)).toBe(true);
    expect(state.acksAllCompletion(109)).toEqual({ isDone: true, error: undefined });
  });

  it('answers NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below the minimum before the batch committed', () => {
    const state = leader({ isr: [1, 2], nowMs: 0 });
    state.onLeaderAppend(110);
    state.proposeIsrChange(LAG_MAX_MS + 1);
    state.onIsrChangeCommitted([1], 8);
    const completion = state.acksAllCompletion(109);
    expect(completion.isDone).toBe(true);
    expect(completion.isDone && completion.error?.errorName).toBe('NOT_ENOUGH_REPLICAS_AFTER_APPEND');
  });

  it('answers NOT_LEADER_OR_FOLLOWER for an uncommitted batch once fenced', () => {
    const state = leader({ nowMs: 0 });
    state.onLeaderAppend(110);
    const proposal = state.proposeIsrChange(LAG_MAX_MS + 1)!;
    state.onIsrChangeRejected(ErrorCode.FENCED_LEADER_EPOCH, proposal);
    const completion = state.acksAllCompletion(105);
    expect(completion.isDone && completion.error?.errorName).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(state.acksAllCompletion(99)).toEqual({ isDone: true, error: undefined });
  });

  it('crashes when asked about an offset never appended', () => {
    expect(() => leader().acksAllCompletion(100)).toThrow(AssertionError);
  });
});
