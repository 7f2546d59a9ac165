import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssertionError, asNodeId, asRaftIndex, asTerm } from '@rivulet/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RaftLogStore } from './raft-log-store.js';
import type { RaftLogEntry } from './raft-log-store.js';

// What the LevelDB store adds over the in-memory contract (which the controller package runs
// against both stores): everything written survives a close and reopen, i.e. a restart.

const entry = (index: number, term: number, data = `e${index}`): RaftLogEntry => ({
  index: asRaftIndex(index),
  term: asTerm(term),
  kind: 'normal',
  data: new TextEncoder().encode(data),
});
const confState = { voters: [asNodeId(1), asNodeId(2), asNodeId(3)], learners: [asNodeId(4)] };

describe('RaftLogStore on LevelDB', () => {
  let dir: string;
  let store: RaftLogStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'raft-log-store-'));
    store = await RaftLogStore.open({ directory: dir });
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const reopen = async (): Promise<RaftLogStore> => {
    await store.close();
    store = await RaftLogStore.open({ directory: dir });
    return store;
  };

  it('starts empty', () => {
    expect(store.initialState()).toEqual({ term: 0, votedFor: null, commitIndex: 0 });
    expect(store.firstIndex()).toBe(1);
    expect(store.lastIndex()).toBe(0);
    expect(store.term(asRaftIndex(0))).toBe(0);
    expect(store.snapshot().metadata.index).toBe(0);
  });

  it('keeps entries, the overwritten suffix and the hard state across a restart', async () => {
    await store.persist({ entries: [entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1)], hardState: { term: asTerm(1), votedFor: asNodeId(2), commitIndex: asRaftIndex(1) } }, true);
    // A new leader overwrites the uncommitted suffix from index 3 with a shorter one.
    await store.persist({ entries: [entry(3, 2, 'x3')], hardState: { term: asTerm(2), votedFor: null, commitIndex: asRaftIndex(2) } }, true);
    const reopened = await reopen();
    expect(reopened.lastIndex()).toBe(3);
    expect(reopened.entries(asRaftIndex(1), asRaftIndex(4)).map((e) => [e.index, e.term, new TextDecoder().decode(e.data)])).toEqual([
      [1, 1, 'e1'],
      [2, 1, 'e2'],
      [3, 2, 'x3'],
    ]);
    expect(reopened.initialState()).toEqual({ term: 2, votedFor: null, commitIndex: 2 });
  });

  it('keeps a created snapshot and the compaction point across a restart', async () => {
    await store.append([1, 2, 3, 4, 5].map((i) => entry(i, 1)));
    await store.createSnapshot(asRaftIndex(4), new Uint8Array([7, 8, 9]), confState);
    await store.compact(asRaftIndex(3));
    const reopened = await reopen();
    expect(reopened.firstIndex()).toBe(4);
    expect(reopened.lastIndex()).toBe(5);
    expect(reopened.term(asRaftIndex(3))).toBe(1);
    expect(reopened.snapshot().metadata).toEqual({ index: 4, term: 1, confState });
    expect([...reopened.snapshot().data]).toEqual([7, 8, 9]);
    expect(reopened.entries(asRaftIndex(4), asRaftIndex(6)).map((e) => e.index)).toEqual([4, 5]);
  });

  it('replaces the log with a received snapshot, and appends after it in the same write', async () => {
    await store.append([1, 2, 3].map((i) => entry(i, 1)));
    const snapshot = { metadata: { index: asRaftIndex(10), term: asTerm(3), confState }, data: new Uint8Array([1]) };
    await store.persist({ snapshot, entries: [entry(11, 3)], hardState: { term: asTerm(3), votedFor: null, commitIndex: asRaftIndex(10) } }, true);
    const reopened = await reopen();
    expect(reopened.firstIndex()).toBe(11);
    expect(reopened.lastIndex()).toBe(11);
    expect(reopened.term(asRaftIndex(10))).toBe(3);
    expect(reopened.snapshot().metadata.index).toBe(10);
  });

  it('keeps entry kinds and binary data', async () => {
    const data = new Uint8Array(10_240).map((_, i) => i % 251);
    await store.append([{ index: asRaftIndex(1), term: asTerm(1), kind: 'noop', data: new Uint8Array(0) }, { index: asRaftIndex(2), term: asTerm(1), kind: 'config-change', data }]);
    const [noop, change] = (await reopen()).entries(asRaftIndex(1), asRaftIndex(3));
    expect(noop?.kind).toBe('noop');
    expect(change?.kind).toBe('config-change');
    expect(Buffer.from(change!.data).equals(Buffer.from(data))).toBe(true);
  });

  it('asserts on overlapping writes: the driver persists one Ready at a time', async () => {
    const first = store.append([entry(1, 1)]);
    await expect(store.append([entry(1, 1)])).rejects.toThrow(AssertionError);
    await first;
  });

  it('refuses writes after close with a StorageError', async () => {
    await store.close();
    await expect(store.append([entry(1, 1)])).rejects.toMatchObject({ name: 'StorageError' });
    store = await RaftLogStore.open({ directory: dir });
  });
});
