// The driver-facing contract: config validation, the Ready / advance protocol, restarts,
// and the in-memory storage the tests and the simulator use as a disk.
import { AssertionError, asNodeId, asRaftIndex, asTerm, SeededRandom } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import type { RaftConfig } from './config.js';
import { resolveConfig } from './config.js';
import { MemoryRaftLog } from './memory-raft-log.js';
import { RaftNode } from './raft-node.js';
import { TestCluster, textOf } from './test-cluster.js';
import { EntryKind, Role } from './types.js';
import type { Entry } from './types.js';

const n = asNodeId;

function baseConfig(overrides: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id: n(1),
    voters: [n(1), n(2), n(3)],
    storage: new MemoryRaftLog(),
    random: new SeededRandom(1),
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: 1,
    ...overrides,
  };
}

function entry(index: number, term: number): Entry {
  return { index: asRaftIndex(index), term: asTerm(term), kind: EntryKind.Normal, data: new Uint8Array([index]) };
}

describe('config validation', () => {
  it('rejects an election timeout not above the heartbeat interval', () => {
    expect(() => resolveConfig(baseConfig({ electionTimeoutTicks: 3, heartbeatIntervalTicks: 3 }))).toThrow(/electionTimeoutTicks/);
  });

  it('rejects empty or duplicate voters and overlapping learners', () => {
    expect(() => resolveConfig(baseConfig({ voters: [] }))).toThrow(AssertionError);
    expect(() => resolveConfig(baseConfig({ voters: [n(1), n(1)] }))).toThrow(/distinct/);
    expect(() => resolveConfig(baseConfig({ learners: [n(1)] }))).toThrow(/voter or a learner/);
  });

  it('rejects non-positive limits', () => {
    expect(() => resolveConfig(baseConfig({ maxInflightAppends: 0 }))).toThrow(/maxInflightAppends/);
  });

  it('fills defaults: pre-vote and check-quorum are on', () => {
    expect(resolveConfig(baseConfig())).toMatchObject({ preVote: true, checkQuorum: true });
  });
});

describe('Ready / advance', () => {
  it('has nothing to do on a fresh node', () => {
    const node = new RaftNode(baseConfig());
    expect(node.hasReady()).toBe(false);
    expect(node.ready()).toBeNull();
  });

  it('asks for a synced hard state when the term or vote changes, and only then', () => {
    const node = new RaftNode(baseConfig({ preVote: false }));
    node.campaign();
    const ready = node.ready();
    expect(ready).toMatchObject({ hardState: { term: 1, votedFor: 1 }, mustSync: true, softState: { role: Role.Candidate } });
    if (ready === null) return;
    node.advance(ready);
    expect(node.ready()).toBeNull();
  });

  it('refuses a second ready() before advance(), and advance() with another Ready', () => {
    const node = new RaftNode(baseConfig({ preVote: false }));
    node.campaign();
    const ready = node.ready();
    expect(() => node.ready()).toThrow(AssertionError);
    expect(() => node.advance({ ...ready!, messages: [] })).toThrow(AssertionError);
  });

  it('accepts step() between ready() and advance(); the new work comes in the next Ready', () => {
    const storage = new MemoryRaftLog();
    const node = new RaftNode(baseConfig({ storage }));
    node.step({
      type: 'append',
      from: n(2),
      to: n(1),
      term: asTerm(1),
      prevLogIndex: asRaftIndex(0),
      prevLogTerm: asTerm(0),
      entries: [entry(1, 1)],
      leaderCommitIndex: asRaftIndex(0),
    });
    const first = node.ready();
    node.step({
      type: 'append',
      from: n(2),
      to: n(1),
      term: asTerm(1),
      prevLogIndex: asRaftIndex(1),
      prevLogTerm: asTerm(1),
      entries: [entry(2, 1)],
      leaderCommitIndex: asRaftIndex(1),
    });
    storage.append(first!.entries);
    node.advance(first!);
    const second = node.ready();
    expect(second?.entries.map((e) => e.index)).toEqual([2]);
    expect(second?.overwriteFromIndex).toBe(2);
  });
});

describe('restarts', () => {
  it('a restarted node keeps its term, vote and log, and re-applies committed entries', () => {
    const cluster = new TestCluster(3);
    cluster.elect(1);
    cluster.propose(1, 'a');
    cluster.propose(1, 'b');
    const before = cluster.node(2).status();
    cluster.restart(2);
    const after = cluster.node(2).status();
    expect(after).toMatchObject({ term: before.term, votedFor: before.votedFor, lastIndex: before.lastIndex });
    cluster.stabilize();
    cluster.tickAll(3);
    expect(cluster.member(2).applied.filter((e) => e.kind === EntryKind.Normal).map(textOf)).toEqual(['a', 'b']);
  });
});

describe('MemoryRaftLog', () => {
  it('overwrites from the first appended index', () => {
    const log = new MemoryRaftLog();
    log.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    log.append([entry(2, 2)]);
    expect(log.lastIndex()).toBe(2);
    expect(log.term(asRaftIndex(2))).toBe(2);
  });

  it('compacts only behind a snapshot and keeps the boundary term', () => {
    const log = new MemoryRaftLog();
    log.append([entry(1, 1), entry(2, 1), entry(3, 2)]);
    expect(() => log.compact(asRaftIndex(2))).toThrow(AssertionError);
    log.createSnapshot(asRaftIndex(2), new Uint8Array([9]), { voters: [n(1)], learners: [] });
    log.compact(asRaftIndex(2));
    expect(log.firstIndex()).toBe(3);
    expect(log.term(asRaftIndex(2))).toBe(1);
    expect(() => log.entries(asRaftIndex(2), asRaftIndex(3))).toThrow(AssertionError);
  });

  it('refuses to let the durable term or commit go back', () => {
    const log = new MemoryRaftLog();
    log.append([entry(1, 1)]);
    log.setHardState({ term: asTerm(2), votedFor: null, commitIndex: asRaftIndex(1) });
    expect(() => log.setHardState({ term: asTerm(1), votedFor: null, commitIndex: asRaftIndex(1) })).toThrow(AssertionError);
    expect(() => log.setHardState({ term: asTerm(2), votedFor: null, commitIndex: asRaftIndex(0) })).toThrow(AssertionError);
  });
});
