// Property test of RaftLog, the durable-plus-unstable view of the log: under any mix of
// appends (with overwrites of the uncommitted suffix), persistence, commits, snapshots and
// compaction, it must read exactly like a plain array model of the log.
import { asRaftIndex, asTerm } from '@rivulet/common';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryRaftLog } from './memory-raft-log.js';
import { RaftLog } from './raft-log.js';
import { EntryKind } from './types.js';
import type { Entry } from './types.js';

type Op =
  | { kind: 'append'; back: number; count: number }
  | { kind: 'persist' }
  | { kind: 'commit'; back: number }
  | { kind: 'compact'; back: number };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), back: fc.nat(4), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('persist' as const) }),
  fc.record({ kind: fc.constant('commit' as const), back: fc.nat(3) }),
  fc.record({ kind: fc.constant('compact' as const), back: fc.nat(3) }),
);

/** Runs the ops against a RaftLog and an array model, comparing after every op. */
function check(ops: Op[]): void {
  const storage = new MemoryRaftLog();
  const log = new RaftLog(storage, asRaftIndex(0), asRaftIndex(0));
  const model: Entry[] = []; // model[i - 1] is the entry at index i
  let term = 1;
  for (const op of ops) {
    if (op.kind === 'append') {
      // A new leader's term overwrites an uncommitted suffix, as a follower would see it.
      const from = Math.max(log.commitIndex + 1, model.length + 1 - op.back);
      term++;
      const entries: Entry[] = [];
      for (let i = 0; i < op.count; i++) entries.push({ index: asRaftIndex(from + i), term: asTerm(term), kind: EntryKind.Normal, data: new Uint8Array([term, i]) });
      log.append(entries);
      model.length = from - 1;
      model.push(...entries);
    } else if (op.kind === 'persist') {
      const unstable = [...log.unstable()];
      storage.append(unstable);
      const last = unstable[unstable.length - 1];
      if (last !== undefined) log.stableTo(last.index, last.term);
    } else if (op.kind === 'commit') {
      const target = Math.max(log.commitIndex, Math.min(storage.lastIndex(), model.length) - op.back);
      log.commitTo(asRaftIndex(target));
      log.appliedTo(asRaftIndex(target));
    } else {
      const index = Math.min(log.appliedIndex, storage.lastIndex()) - op.back;
      if (index > storage.snapshot().metadata.index) {
        storage.createSnapshot(asRaftIndex(index), new Uint8Array(0), { voters: [], learners: [] });
        storage.compact(asRaftIndex(index));
      }
    }
    compare(log, model);
  }
}

function compare(log: RaftLog, model: Entry[]): void {
  expect(log.lastIndex()).toBe(model.length);
  const first = log.firstIndex();
  for (let index = first; index <= model.length; index++) expect(log.term(index)).toBe(model[index - 1]?.term);
  expect(log.entries(first, model.length + 1, Number.MAX_SAFE_INTEGER).map((e) => e.index)).toEqual(model.slice(first - 1).map((e) => e.index));
  expect(log.term(model.length + 1)).toBeNull();
}

describe('RaftLog (property)', () => {
  it('reads like an array under appends, overwrites, persistence, commits and compaction', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { maxLength: 60 }), (ops) => check(ops)),
      { numRuns: 300, seed: 42 },
    );
  });

  it('limits entries by bytes but always returns at least one', () => {
    const storage = new MemoryRaftLog();
    const log = new RaftLog(storage, asRaftIndex(0), asRaftIndex(0));
    log.append([1, 2, 3].map((i) => ({ index: asRaftIndex(i), term: asTerm(1), kind: EntryKind.Normal, data: new Uint8Array(100) })));
    expect(log.entries(1, 4, 1)).toHaveLength(1);
    expect(log.entries(1, 4, 300)).toHaveLength(2);
  });
});
