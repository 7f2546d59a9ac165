// The KIP-101/KIP-279 exchange: the leader's OffsetForLeaderEpoch answer and the follower's
// truncation point, by example and as a property over random leader-election histories.
import { AssertionError } from '@rivulet/common';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UNDEFINED_EPOCH, UNDEFINED_EPOCH_END_OFFSET, endOffsetForEpoch, latestLeaderEpoch } from './epoch-entries.js';
import type { EpochEntry } from './epoch-entries.js';
import { followerHighWatermark, truncationPoint } from './follower-rules.js';

const e = (leaderEpoch: number, startOffset: number): EpochEntry => ({ leaderEpoch, startOffset });

describe('endOffsetForEpoch (the leader answers OffsetForLeaderEpoch)', () => {
  const leaderEntries = [e(1, 0), e(3, 10), e(6, 25)];

  it('answers the log-end offset for the latest epoch', () => {
    expect(endOffsetForEpoch(leaderEntries, 40, 6)).toEqual({ leaderEpoch: 6, endOffset: 40 });
  });

  it('answers a known older epoch with the start of the next higher epoch', () => {
    expect(endOffsetForEpoch(leaderEntries, 40, 3)).toEqual({ leaderEpoch: 3, endOffset: 25 });
    expect(endOffsetForEpoch(leaderEntries, 40, 1)).toEqual({ leaderEpoch: 1, endOffset: 10 });
  });

  it('answers an unknown epoch between known ones with the largest known epoch below it', () => {
    expect(endOffsetForEpoch(leaderEntries, 40, 2)).toEqual({ leaderEpoch: 1, endOffset: 10 });
    expect(endOffsetForEpoch(leaderEntries, 40, 5)).toEqual({ leaderEpoch: 3, endOffset: 25 });
  });

  it('answers an epoch below the earliest with that epoch and the earliest start offset, as Kafka', () => {
    expect(endOffsetForEpoch([e(4, 100), e(6, 130)], 150, 2)).toEqual({ leaderEpoch: 2, endOffset: 100 });
  });

  it('answers UNDEFINED for UNDEFINED_EPOCH, an empty cache, or an epoch newer than the latest', () => {
    expect(endOffsetForEpoch(leaderEntries, 40, UNDEFINED_EPOCH)).toEqual(UNDEFINED_EPOCH_END_OFFSET);
    expect(endOffsetForEpoch([], 0, 3)).toEqual(UNDEFINED_EPOCH_END_OFFSET);
    expect(endOffsetForEpoch(leaderEntries, 40, 7)).toEqual(UNDEFINED_EPOCH_END_OFFSET);
  });

  it('crashes on a cache that is not strictly increasing or runs past the log end', () => {
    expect(() => endOffsetForEpoch([e(3, 10), e(2, 20)], 30, 3)).toThrow(AssertionError);
    expect(() => endOffsetForEpoch([e(1, 10), e(2, 10)], 30, 1)).toThrow(AssertionError);
    expect(() => endOffsetForEpoch([e(1, 0), e(2, 31)], 30, 1)).toThrow(AssertionError);
  });
});

describe('truncationPoint (the follower acts on the answer)', () => {
  it('keeps everything when the follower is a prefix of the leader in the same epoch', () => {
    const answer = endOffsetForEpoch([e(0, 0), e(2, 50)], 80, 2);
    expect(truncationPoint([e(0, 0), e(2, 50)], 60, answer)).toEqual({ kind: 'truncate', truncationOffset: 60 });
  });

  it('cuts the tail a deposed leader wrote in its epoch after the new leader took over', () => {
    // Both wrote epoch 1 up to 20; the follower led epoch 1 on to offset 30 unreplicated, and the
    // new leader started epoch 2 at 20.
    const leaderEntries = [e(0, 0), e(1, 10), e(2, 20)];
    const followerEntries = [e(0, 0), e(1, 10)];
    const answer = endOffsetForEpoch(leaderEntries, 45, latestLeaderEpoch(followerEntries));
    expect(answer).toEqual({ leaderEpoch: 1, endOffset: 20 });
    expect(truncationPoint(followerEntries, 30, answer)).toEqual({ kind: 'truncate', truncationOffset: 20 });
  });

  it('resolves in one answer when the follower knows the epoch the leader answered (KIP-279)', () => {
    // The follower wrote epoch 3 (never replicated); the leader has no epoch 3 and answers epoch
    // 2, which ended at 20 on the leader and at 18 on the follower.
    const leaderEntries = [e(0, 0), e(2, 10), e(4, 20)];
    const followerEntries = [e(0, 0), e(2, 10), e(3, 18)];
    const answer = endOffsetForEpoch(leaderEntries, 30, 3);
    expect(answer).toEqual({ leaderEpoch: 2, endOffset: 20 });
    expect(truncationPoint(followerEntries, 25, answer)).toEqual({ kind: 'truncate', truncationOffset: 18 });
  });

  it('asks again with its own older epoch when it never saw the answered one', () => {
    const leaderEntries = [e(0, 0), e(1, 2), e(3, 4)];
    const followerEntries = [e(0, 0), e(2, 2)];
    const first = truncationPoint(followerEntries, 4, endOffsetForEpoch(leaderEntries, 5, 2));
    expect(first).toEqual({ kind: 'ask-again', truncationOffset: 2, nextLeaderEpoch: 0 });
    const second = truncationPoint([e(0, 0)], 2, endOffsetForEpoch(leaderEntries, 5, 0));
    expect(second).toEqual({ kind: 'truncate', truncationOffset: 2 });
  });

  it('falls back to the high watermark when the leader has no answer', () => {
    expect(truncationPoint([], 0, UNDEFINED_EPOCH_END_OFFSET)).toEqual({ kind: 'truncate-to-high-watermark' });
  });

  it('never truncates past its own log end', () => {
    const answer = { leaderEpoch: 2, endOffset: 500 };
    expect(truncationPoint([e(2, 0)], 40, answer)).toEqual({ kind: 'truncate', truncationOffset: 40 });
  });
});

describe('followerHighWatermark', () => {
  it("is the leader's high watermark capped by the follower's log end", () => {
    expect(followerHighWatermark(100, 80)).toBe(80);
    expect(followerHighWatermark(60, 80)).toBe(60);
  });
});

// ---------------------------------------------------------------------------------------
// Property: over any history of leader elections (clean or not), appends and partial
// replication, the exchange leaves the follower with exactly the longest common prefix of the
// two logs. A record is identified by (offset, leader epoch): each epoch has one leader, and a
// follower only copies after matching the leader's prefix.

/** One replica's log as the leader epoch of each record, and its epoch cache. */
interface ReplicaModel {
  log: number[];
  entries: EpochEntry[];
}

/** LeaderEpochCache.assign semantics: a new epoch removes conflicting tail entries. */
function assign(entries: EpochEntry[], leaderEpoch: number, startOffset: number): void {
  const last = entries[entries.length - 1];
  if (last !== undefined && last.leaderEpoch === leaderEpoch) return;
  while (entries.length > 0) {
    const tail = entries[entries.length - 1]!;
    if (tail.leaderEpoch < leaderEpoch && tail.startOffset < startOffset) break;
    entries.pop();
  }
  entries.push(e(leaderEpoch, startOffset));
}

function truncate(replica: ReplicaModel, offset: number): void {
  replica.log.length = Math.min(replica.log.length, offset);
  while (replica.entries.length > 0 && replica.entries[replica.entries.length - 1]!.startOffset >= offset) replica.entries.pop();
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

type HistoryCommand =
  | { readonly type: 'elect'; readonly replica: number }
  | { readonly type: 'append'; readonly count: number }
  | { readonly type: 'replicate'; readonly replica: number; readonly count: number };

const REPLICA_COUNT = 3;
const historyCommand: fc.Arbitrary<HistoryCommand> = fc.oneof(
  fc.record({ type: fc.constant('elect' as const), replica: fc.integer({ min: 0, max: REPLICA_COUNT - 1 }) }),
  fc.record({ type: fc.constant('append' as const), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ type: fc.constant('replicate' as const), replica: fc.integer({ min: 0, max: REPLICA_COUNT - 1 }), count: fc.integer({ min: 0, max: 6 }) }),
);

function runHistory(commands: readonly HistoryCommand[]): { replicas: ReplicaModel[]; leader: number } {
  const replicas: ReplicaModel[] = Array.from({ length: REPLICA_COUNT }, () => ({ log: [], entries: [] }));
  let leader = 0;
  let leaderEpoch = 0;
  assign(replicas[0]!.entries, 0, 0);
  for (const command of commands) {
    if (command.type === 'elect') {
      leader = command.replica;
      leaderEpoch++;
      const newLeader = replicas[leader]!;
      assign(newLeader.entries, leaderEpoch, newLeader.log.length);
    } else if (command.type === 'append') {
      for (let i = 0; i < command.count; i++) replicas[leader]!.log.push(leaderEpoch);
    } else if (command.replica !== leader) {
      // Replicate the way a correct follower does: match the leader's prefix, then copy.
      const follower = replicas[command.replica]!;
      const source = replicas[leader]!;
      truncate(follower, commonPrefixLength(follower.log, source.log));
      const end = Math.min(source.log.length, follower.log.length + command.count);
      for (let offset = follower.log.length; offset < end; offset++) {
        const epoch = source.log[offset]!;
        if (latestLeaderEpoch(follower.entries) < epoch) assign(follower.entries, epoch, offset);
        follower.log.push(epoch);
      }
    }
  }
  return { replicas, leader };
}

describe('the truncation exchange, as a property', () => {
  it('leaves the follower with exactly the longest common prefix, asking a strictly smaller epoch each round', () => {
    const seen = { askAgain: 0, divergentTailCut: 0 };
    fc.assert(
      fc.property(fc.array(historyCommand, { maxLength: 60 }), fc.integer({ min: 0, max: REPLICA_COUNT - 1 }), (commands, pick) => {
        const { replicas, leader } = runHistory(commands);
        const followerIndex = pick === leader ? (pick + 1) % REPLICA_COUNT : pick;
        const follower = replicas[followerIndex]!;
        const leaderReplica = replicas[leader]!;
        const expected = commonPrefixLength(follower.log, leaderReplica.log);
        if (expected < follower.log.length) seen.divergentTailCut++;
        let asked = latestLeaderEpoch(follower.entries);
        for (let round = 0; round < 64; round++) {
          const answer = endOffsetForEpoch(leaderReplica.entries, leaderReplica.log.length, asked);
          const step = truncationPoint(follower.entries, follower.log.length, answer);
          if (step.kind === 'truncate-to-high-watermark') {
            // Only an empty follower asks UNDEFINED here; its high watermark is 0.
            expect(follower.log.length).toBe(0);
            truncate(follower, 0);
            break;
          }
          expect(step.truncationOffset).toBeGreaterThanOrEqual(expected);
          truncate(follower, step.truncationOffset);
          if (step.kind === 'truncate') break;
          seen.askAgain++;
          expect(step.nextLeaderEpoch).toBeLessThan(asked);
          expect(latestLeaderEpoch(follower.entries)).toBe(step.nextLeaderEpoch);
          asked = step.nextLeaderEpoch;
        }
        expect(follower.log.length).toBe(expected);
        expect(follower.log).toEqual(leaderReplica.log.slice(0, expected));
      }),
      { numRuns: 2000 },
    );
    // The histories must exercise the interesting paths, or the property proves little.
    expect(seen.askAgain).toBeGreaterThan(0);
    expect(seen.divergentTailCut).toBeGreaterThan(50);
  });
});
