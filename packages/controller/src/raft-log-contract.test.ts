import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssertionError, asNodeId, asRaftIndex, asTerm } from '@rivulet/common';
import type { RaftIndex } from '@rivulet/common';
import { MemoryRaftLog } from '@rivulet/raft';
import type { ConfState, Entry, HardState, RaftStorage, Snapshot } from '@rivulet/raft';
import { RaftLogStore } from '@rivulet/storage';
import { afterEach, describe, expect, it } from 'vitest';

// The RaftStorage contract, run against the reference (MemoryRaftLog, what the simulator
// proves the core with) and the LevelDB store: same reads after the same writes. It lives
// here because only the controller may see both @rivulet/raft and @rivulet/storage.

interface StoreUnderTest extends RaftStorage {
  append(entries: readonly Entry[]): unknown;
  setHardState(hardState: HardState): unknown;
  applySnapshot(snapshot: Snapshot): unknown;
  createSnapshot(index: RaftIndex, data: Uint8Array, confState: ConfState): unknown;
  compact(index: RaftIndex): unknown;
}

const dirs: string[] = [];
const opened: RaftLogStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const implementations: [string, () => Promise<StoreUnderTest>][] = [
  ['MemoryRaftLog', () => Promise.resolve(new MemoryRaftLog())],
  [
    'RaftLogStore (LevelDB)',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'raft-contract-'));
      dirs.push(dir);
      const store = await RaftLogStore.open({ directory: dir });
      opened.push(store);
      return store;
    },
  ],
];

const entry = (index: number, term: number): Entry => ({ index: asRaftIndex(index), term: asTerm(term), kind: 'normal', data: new Uint8Array([index % 256]) });
const confState: ConfState = { voters: [asNodeId(1), asNodeId(2), asNodeId(3)], learners: [] };
const indices = (entries: readonly Entry[]): number[] => entries.map((e) => e.index);

/** Awaits a write whether the store writes synchronously (memory) or not (LevelDB); rethrows either way. */
async function write(action: () => unknown): Promise<void> {
  await action();
}

describe.each(implementations)('RaftStorage contract: %s', (_name, open) => {
  it('a fresh store is empty with a zero hard state and no snapshot', async () => {
    const store = await open();
    expect(store.initialState()).toEqual({ term: 0, votedFor: null, commitIndex: 0 });
    expect([store.firstIndex(), store.lastIndex(), store.term(asRaftIndex(0))]).toEqual([1, 0, 0]);
    expect(store.snapshot().metadata.index).toBe(0);
    expect(store.entries(asRaftIndex(1), asRaftIndex(1))).toEqual([]);
  });

  it('appends, reads ranges and terms', async () => {
    const store = await open();
    await write(() => store.append([entry(1, 1), entry(2, 1), entry(3, 2)]));
    expect(indices(store.entries(asRaftIndex(2), asRaftIndex(4)))).toEqual([2, 3]);
    expect(store.term(asRaftIndex(3))).toBe(2);
    expect(store.lastIndex()).toBe(3);
  });

  it('an append drops every entry at or after its first index (a new leader overwrites a suffix)', async () => {
    const store = await open();
    await write(() => store.append([1, 2, 3, 4, 5].map((i) => entry(i, 1))));
    await write(() => store.append([entry(3, 2), entry(4, 2)]));
    expect(store.lastIndex()).toBe(4);
    expect(store.entries(asRaftIndex(1), asRaftIndex(5)).map((e) => e.term)).toEqual([1, 1, 2, 2]);
  });

  it('refuses an append that leaves a hole, and one that rewrites a committed entry', async () => {
    const store = await open();
    await write(() => store.append([entry(1, 1), entry(2, 1)]));
    await write(() => store.setHardState({ term: asTerm(1), votedFor: null, commitIndex: asRaftIndex(2) }));
    await expect(write(() => store.append([entry(4, 1)]))).rejects.toThrow(AssertionError);
    await expect(write(() => store.append([entry(2, 2)]))).rejects.toThrow(AssertionError);
  });

  it('keeps the hard state and refuses to move term or commit backwards', async () => {
    const store = await open();
    await write(() => store.setHardState({ term: asTerm(3), votedFor: asNodeId(2), commitIndex: asRaftIndex(0) }));
    expect(store.initialState()).toEqual({ term: 3, votedFor: 2, commitIndex: 0 });
    await expect(write(() => store.setHardState({ term: asTerm(2), votedFor: null, commitIndex: asRaftIndex(0) }))).rejects.toThrow(AssertionError);
  });

  it('creates a snapshot, compacts behind it, and still knows the term at the compaction point', async () => {
    const store = await open();
    await write(() => store.append([1, 2, 3, 4, 5, 6].map((i) => entry(i, i < 4 ? 1 : 2))));
    await write(() => store.createSnapshot(asRaftIndex(5), new Uint8Array([42]), confState));
    await write(() => store.compact(asRaftIndex(4)));
    expect(store.firstIndex()).toBe(5);
    expect(store.lastIndex()).toBe(6);
    expect(store.term(asRaftIndex(4))).toBe(2);
    expect(store.snapshot().metadata).toEqual({ index: 5, term: 2, confState });
    expect(indices(store.entries(asRaftIndex(5), asRaftIndex(7)))).toEqual([5, 6]);
    expect(() => store.entries(asRaftIndex(4), asRaftIndex(6))).toThrow(AssertionError);
    await expect(write(() => store.compact(asRaftIndex(6)))).rejects.toThrow(AssertionError);
  });

  it('a received snapshot replaces the whole log, and later appends continue after it', async () => {
    const store = await open();
    await write(() => store.append([entry(1, 1), entry(2, 1)]));
    const snapshot: Snapshot = { metadata: { index: asRaftIndex(10), term: asTerm(4), confState }, data: new Uint8Array([1, 2]) };
    await write(() => store.applySnapshot(snapshot));
    expect([store.firstIndex(), store.lastIndex(), store.term(asRaftIndex(10))]).toEqual([11, 10, 4]);
    await write(() => store.append([entry(11, 4)]));
    expect(store.lastIndex()).toBe(11);
    await expect(write(() => store.applySnapshot(snapshot))).rejects.toThrow(AssertionError);
  });
});
