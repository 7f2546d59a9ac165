// Follower behaviour, tied to the Raft paper (Ongaro & Ousterhout, "In Search of an
// Understandable Consensus Algorithm", extended version) and the thesis for pre-vote.
// Each test: init a node, test one input, check the output (messages, state).
import { asNodeId, asRaftIndex, asTerm, SeededRandom } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import type { RaftConfig } from './config.js';
import { MemoryRaftLog } from './memory-raft-log.js';
import type { AppendResponse, Message } from './messages.js';
import { RaftNode } from './raft-node.js';
import { EntryKind, Role } from './types.js';
import type { Entry } from './types.js';

const n = asNodeId;

function entry(index: number, term: number, text = ''): Entry {
  return { index: asRaftIndex(index), term: asTerm(term), kind: EntryKind.Normal, data: new TextEncoder().encode(text) };
}

function newFollower(options: { log?: Entry[]; term?: number; config?: Partial<RaftConfig> } = {}): { node: RaftNode; storage: MemoryRaftLog } {
  const storage = new MemoryRaftLog();
  storage.append(options.log ?? []);
  storage.setHardState({ term: asTerm(options.term ?? 0), votedFor: null, commitIndex: asRaftIndex(0) });
  const node = new RaftNode({
    id: n(1),
    voters: [n(1), n(2), n(3)],
    storage,
    random: new SeededRandom(7),
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: 1,
    ...options.config,
  });
  return { node, storage };
}

/** Drains one Ready, persisting it, and returns its messages. */
function drain(node: RaftNode, storage: MemoryRaftLog): Message[] {
  const ready = node.ready();
  if (ready === null) return [];
  storage.append(ready.entries);
  if (ready.hardState !== null) storage.setHardState(ready.hardState);
  node.advance(ready);
  return [...ready.messages];
}

function append(from: number, term: number, prevLogIndex: number, prevLogTerm: number, entries: Entry[], commit = 0): Message {
  return {
    type: 'append',
    from: n(from),
    to: n(1),
    term: asTerm(term),
    prevLogIndex: asRaftIndex(prevLogIndex),
    prevLogTerm: asTerm(prevLogTerm),
    entries,
    leaderCommitIndex: asRaftIndex(commit),
  };
}

describe('follower: leader election (§5.2)', () => {
  it('starts as a follower with no leader in term 0', () => {
    const { node } = newFollower();
    expect(node.status()).toMatchObject({ role: Role.Follower, term: 0, leaderId: null });
  });

  it('campaigns after its randomized election timeout, which lies in [timeout, 2 × timeout)', () => {
    const { node, storage } = newFollower({ config: { preVote: false } });
    let ticks = 0;
    while (node.status().role === Role.Follower && ticks < 100) {
      node.tick();
      ticks++;
    }
    expect(ticks).toBeGreaterThanOrEqual(10);
    expect(ticks).toBeLessThan(20);
    const messages = drain(node, storage);
    expect(node.status()).toMatchObject({ role: Role.Candidate, term: 1, votedFor: 1 });
    expect(messages.map((m) => [m.type, m.to, m.term])).toEqual([
      ['vote', 2, 1],
      ['vote', 3, 1],
    ]);
    expect(storage.initialState()).toMatchObject({ term: 1, votedFor: 1 });
  });

  it('with pre-vote, asks for pre-votes in term + 1 without changing its own term (thesis §9.6)', () => {
    const { node, storage } = newFollower({ term: 4 });
    for (let i = 0; i < 20; i++) node.tick();
    const messages = drain(node, storage);
    expect(node.status()).toMatchObject({ role: Role.PreCandidate, term: 4, votedFor: null });
    expect(messages.every((m) => m.type === 'pre-vote' && m.term === 5)).toBe(true);
  });

  it('grants one vote per term, first come first served (§5.2)', () => {
    const { node, storage } = newFollower();
    node.step({ type: 'vote', from: n(2), to: n(1), term: asTerm(1), lastLogIndex: asRaftIndex(0), lastLogTerm: asTerm(0), leadershipTransfer: false });
    node.step({ type: 'vote', from: n(3), to: n(1), term: asTerm(1), lastLogIndex: asRaftIndex(0), lastLogTerm: asTerm(0), leadershipTransfer: false });
    const messages = drain(node, storage);
    expect(messages.map((m) => [m.to, m.type === 'vote-response' && m.granted])).toEqual([
      [2, true],
      [3, false],
    ]);
    expect(storage.initialState().votedFor).toBe(2);
  });

  it('refuses a candidate whose log is less up to date (§5.4.1)', () => {
    const { node, storage } = newFollower({ log: [entry(1, 1), entry(2, 2)], term: 2 });
    node.step({ type: 'vote', from: n(2), to: n(1), term: asTerm(3), lastLogIndex: asRaftIndex(5), lastLogTerm: asTerm(1), leadershipTransfer: false });
    node.step({ type: 'vote', from: n(3), to: n(1), term: asTerm(3), lastLogIndex: asRaftIndex(1), lastLogTerm: asTerm(2), leadershipTransfer: false });
    const messages = drain(node, storage);
    expect(messages.map((m) => m.type === 'vote-response' && m.granted)).toEqual([false, false]);
    expect(node.status().term).toBe(3);
  });

  it('ignores vote requests while it hears from a leader (leader lease with check-quorum)', () => {
    const { node, storage } = newFollower();
    node.step({ type: 'heartbeat', from: n(2), to: n(1), term: asTerm(1), commitIndex: asRaftIndex(0), readContext: 0 });
    drain(node, storage);
    node.step({ type: 'vote', from: n(3), to: n(1), term: asTerm(2), lastLogIndex: asRaftIndex(9), lastLogTerm: asTerm(1), leadershipTransfer: false });
    expect(drain(node, storage)).toEqual([]);
    expect(node.status()).toMatchObject({ term: 1, leaderId: 2 });
  });

  it('does not campaign while heartbeats keep arriving', () => {
    const { node, storage } = newFollower();
    for (let i = 0; i < 100; i++) {
      node.step({ type: 'heartbeat', from: n(2), to: n(1), term: asTerm(1), commitIndex: asRaftIndex(0), readContext: 0 });
      node.tick();
      drain(node, storage);
    }
    expect(node.status().role).toBe(Role.Follower);
  });
});

describe('follower: terms (§5.1)', () => {
  it('adopts a higher term and the sender as leader', () => {
    const { node } = newFollower({ term: 2 });
    node.step(append(2, 5, 0, 0, []));
    expect(node.status()).toMatchObject({ term: 5, leaderId: 2, role: Role.Follower });
  });

  it('answers a stale leader with its own term so that it steps down', () => {
    const { node, storage } = newFollower({ term: 5 });
    node.step(append(2, 3, 0, 0, []));
    const [response] = drain(node, storage);
    expect(response).toMatchObject({ type: 'append-response', to: 2, term: 5, success: false });
  });
});

describe('follower: log replication (§5.3)', () => {
  it('appends entries after a matching previous entry and acknowledges the last one', () => {
    const { node, storage } = newFollower();
    node.step(append(2, 1, 0, 0, [entry(1, 1, 'a'), entry(2, 1, 'b')], 1));
    const [response] = drain(node, storage);
    expect(response).toMatchObject({ type: 'append-response', success: true, matchIndex: 2 });
    expect(storage.lastIndex()).toBe(2);
    expect(node.status().commitIndex).toBe(1);
  });

  it('rejects when the previous entry does not match, with a hint that skips the conflicting term', () => {
    const log = [entry(1, 1), entry(2, 2), entry(3, 2), entry(4, 2), entry(5, 2)];
    const { node, storage } = newFollower({ log, term: 2 });
    node.step(append(2, 4, 5, 3, []));
    const [response] = drain(node, storage) as [AppendResponse];
    expect(response).toMatchObject({ success: false, rejectedIndex: 5, hintIndex: 5, hintTerm: 2 });
    node.step(append(2, 4, 8, 3, []));
    const [beyond] = drain(node, storage) as [AppendResponse];
    expect(beyond).toMatchObject({ success: false, rejectedIndex: 8, hintIndex: 5, hintTerm: 2 });
  });

  it('deletes a conflicting suffix and everything after it, never a committed entry', () => {
    const { node, storage } = newFollower({ log: [entry(1, 1, 'a'), entry(2, 1, 'b'), entry(3, 1, 'c')], term: 1 });
    node.step(append(2, 2, 1, 1, [entry(2, 2, 'x')], 1));
    const [response] = drain(node, storage);
    expect(response).toMatchObject({ success: true, matchIndex: 2 });
    expect(storage.lastIndex()).toBe(2);
    expect(storage.term(asRaftIndex(2))).toBe(2);
  });

  it('keeps its log when a delayed, shorter append arrives (no truncation of matching entries)', () => {
    const { node, storage } = newFollower();
    node.step(append(2, 1, 0, 0, [entry(1, 1), entry(2, 1), entry(3, 1)]));
    drain(node, storage);
    node.step(append(2, 1, 0, 0, [entry(1, 1)]));
    const [response] = drain(node, storage);
    expect(response).toMatchObject({ success: true, matchIndex: 1 });
    expect(storage.lastIndex()).toBe(3);
  });

  it('commits up to min(leader commit, last new entry)', () => {
    const { node, storage } = newFollower();
    node.step(append(2, 1, 0, 0, [entry(1, 1), entry(2, 1)], 10));
    drain(node, storage);
    expect(node.status().commitIndex).toBe(2);
  });

  it('hands committed entries to the state machine once, in order', () => {
    const { node, storage } = newFollower();
    node.step(append(2, 1, 0, 0, [entry(1, 1, 'a'), entry(2, 1, 'b')], 2));
    const ready = node.ready();
    expect(ready?.committedEntries.map((e) => e.index)).toEqual([1, 2]);
    if (ready === null) return;
    storage.append(ready.entries);
    node.advance(ready);
    expect(node.ready()?.committedEntries ?? []).toEqual([]);
    expect(node.status().appliedIndex).toBe(2);
  });
});
