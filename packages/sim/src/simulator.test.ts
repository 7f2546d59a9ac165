// The simulator's own machinery: deterministic ordering, faithful replay, a network that
// does what its options say, and checkers that really flag broken invariants.
import { asNodeId, asRaftIndex, asTerm, SeededRandom } from '@rivulet/common';
import { EntryKind, MemoryRaftLog, RaftNode } from '@rivulet/raft';
import type { Entry } from '@rivulet/raft';
import { describe, expect, it } from 'vitest';
import { InvariantChecker, InvariantViolation } from './checker.js';
import { faultMixes } from './fault-mix.js';
import { EventQueue } from './event-queue.js';
import { SimNetwork } from './network.js';
import { runSeed } from './run.js';
import { encodeProposal, SimStateMachine } from './state-machine.js';

const n = asNodeId;

function entry(index: number, term: number, proposalId: number): Entry {
  return { index: asRaftIndex(index), term: asTerm(term), kind: EntryKind.Normal, data: encodeProposal(proposalId) };
}

describe('EventQueue', () => {
  it('pops by time, then in insertion order for equal times', () => {
    const queue = new EventQueue<string>(100);
    queue.push(5, 'c');
    queue.push(1, 'a');
    queue.push(5, 'd');
    queue.push(3, 'b');
    const popped: string[] = [];
    for (let next = queue.pop(); next !== null; next = queue.pop()) popped.push(next.item);
    expect(popped).toEqual(['a', 'b', 'c', 'd']);
  });

  it('is bounded', () => {
    const queue = new EventQueue<number>(2);
    queue.push(1, 1);
    queue.push(1, 2);
    expect(() => queue.push(1, 3)).toThrow(/overflow/);
  });
});

describe('SimNetwork', () => {
  it('drops messages on cut links, one direction at a time', () => {
    const network = new SimNetwork({ lossProbability: 0, duplicateProbability: 0, delayMinMs: 1, delayMaxMs: 1 }, new SeededRandom(1));
    network.cut(n(1), n(2));
    expect(network.deliveryDelaysMs(n(1), n(2))).toEqual([]);
    expect(network.deliveryDelaysMs(n(2), n(1))).toEqual([1]);
    network.healAll();
    expect(network.deliveryDelaysMs(n(1), n(2))).toEqual([1]);
  });

  it('duplicates and loses messages at the configured rates', () => {
    const network = new SimNetwork({ lossProbability: 0.25, duplicateProbability: 0.5, delayMinMs: 1, delayMaxMs: 9 }, new SeededRandom(2));
    let lost = 0;
    let duplicated = 0;
    for (let i = 0; i < 4000; i++) {
      const copies = network.deliveryDelaysMs(n(1), n(2)).length;
      if (copies === 0) lost++;
      if (copies === 2) duplicated++;
    }
    expect(lost / 4000).toBeCloseTo(0.25, 1);
    expect(duplicated / 3000).toBeCloseTo(0.5, 1);
  });
});

describe('Simulation', () => {
  it('replays a seed exactly', () => {
    const first = runSeed(8, { faultPhaseEvents: 2000 });
    const second = runSeed(8, { faultPhaseEvents: 2000 });
    expect(first.ok).toBe(true);
    expect(second.stats).toEqual(first.stats);
  });

  it('makes progress: proposals are acknowledged and snapshots travel in some runs', () => {
    const results = [5, 12, 8].map((seed) => runSeed(seed, { faultPhaseEvents: 3000 }));
    expect(results.every((result) => result.ok)).toBe(true);
    expect(results.every((result) => result.stats.proposalsAcknowledged > 10)).toBe(true);
    expect(results.some((result) => result.stats.snapshotChunksSent > 0)).toBe(true);
  });

  it('a removed node whose disk is wiped rejoins under a fresh id, as a learner, then a voter once caught up', () => {
    // Seeds of the membership mix (it cycles with seed / 2), 3 and 5 nodes.
    const membershipSeeds = Array.from({ length: 24 }, (_, i) => (2 * faultMixes.findIndex((mix) => mix.name === 'membership') + 14 * Math.floor(i / 2)) + (i % 2));
    const results = membershipSeeds.map((seed) => runSeed(seed, { faultPhaseEvents: 6000 }));
    for (const result of results) expect(result.failure ?? 'ok').toBe('ok');
    expect(results.every((result) => result.description.includes('mix=membership'))).toBe(true);
    expect(results.reduce((sum, result) => sum + result.stats.disksWiped, 0)).toBeGreaterThan(3);
    expect(results.reduce((sum, result) => sum + result.stats.rejoinedVoters, 0)).toBeGreaterThan(0);
  });
});

describe('InvariantChecker', () => {
  function liveNode(id: number, role: 'leader' | 'follower', term: number) {
    const storage = new MemoryRaftLog();
    storage.setHardState({ term: asTerm(term - 1), votedFor: null, commitIndex: asRaftIndex(0) });
    const raft = new RaftNode({ id: n(id), voters: [n(id)], storage, random: new SeededRandom(id), electionTimeoutTicks: 10, heartbeatIntervalTicks: 1 });
    if (role === 'leader') raft.campaign();
    return { raft, incarnation: 1 };
  }

  it('flags two leaders in one term', () => {
    const checker = new InvariantChecker();
    // Two single-node "clusters" both lead term 1: the checker sees them as one cluster.
    const nodes = new Map([
      [n(1), liveNode(1, 'leader', 1)],
      [n(2), liveNode(2, 'leader', 1)],
    ]);
    expect(() => checker.afterEvent(nodes)).toThrow(InvariantViolation);
  });

  it('flags two different entries with the same index and term', () => {
    const checker = new InvariantChecker();
    const disk = new MemoryRaftLog();
    checker.onPersist(n(1), [entry(1, 1, 10)], null, disk);
    expect(() => checker.onPersist(n(2), [entry(1, 1, 11)], null, disk)).toThrow(/log matching/);
  });

  it('flags two nodes applying different histories', () => {
    const checker = new InvariantChecker();
    const a = new SimStateMachine();
    const b = new SimStateMachine();
    a.apply(entry(1, 1, 10));
    checker.onApply(n(1), entry(1, 1, 10), a.digest);
    b.apply(entry(1, 2, 11));
    expect(() => checker.onApply(n(2), entry(1, 2, 11), b.digest)).toThrow(/state machine safety/);
  });

  it('flags a durable vote that changes within a term', () => {
    const checker = new InvariantChecker();
    const disk = new MemoryRaftLog();
    checker.onPersist(n(1), [], { term: asTerm(3), votedFor: n(2), commitIndex: asRaftIndex(0) }, disk);
    expect(() => checker.onPersist(n(1), [], { term: asTerm(3), votedFor: n(3), commitIndex: asRaftIndex(0) }, disk)).toThrow(/voted for/);
  });
});
