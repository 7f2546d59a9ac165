// Candidate and pre-candidate behaviour (Raft §5.2, thesis §9.6), plus cluster-level
// election properties checked with the in-memory TestCluster.
import { AssertionError, asNodeId, asRaftIndex, asTerm, SeededRandom } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { MemoryRaftLog } from './memory-raft-log.js';
import { Raft } from './raft.js';
import { RaftNode } from './raft-node.js';
import { TestCluster } from './test-cluster.js';
import { Role } from './types.js';

const n = asNodeId;

function newNode(preVote: boolean, voters = 3): RaftNode {
  return new RaftNode({
    id: n(1),
    voters: Array.from({ length: voters }, (_, i) => n(i + 1)),
    storage: new MemoryRaftLog(),
    random: new SeededRandom(1),
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: 1,
    preVote,
  });
}

function voteResponse(from: number, term: number, granted: boolean, type: 'vote-response' | 'pre-vote-response' = 'vote-response') {
  return { type, from: n(from), to: n(1), term: asTerm(term), granted } as const;
}

describe('candidate (§5.2)', () => {
  it('becomes leader with votes from a majority', () => {
    const node = newNode(false, 5);
    node.campaign();
    node.step(voteResponse(2, 1, true));
    expect(node.status().role).toBe(Role.Candidate);
    node.step(voteResponse(3, 1, true));
    expect(node.status()).toMatchObject({ role: Role.Leader, leaderId: 1, term: 1 });
  });

  it('returns to follower once a majority refused', () => {
    const node = newNode(false, 3);
    node.campaign();
    node.step(voteResponse(2, 1, false));
    node.step(voteResponse(3, 1, false));
    expect(node.status()).toMatchObject({ role: Role.Follower, term: 1 });
  });

  it('counts a duplicated vote once', () => {
    const node = newNode(false, 5);
    node.campaign();
    node.step(voteResponse(2, 1, true));
    node.step(voteResponse(2, 1, true));
    expect(node.status().role).toBe(Role.Candidate);
  });

  it('follows a leader of its own term that appears', () => {
    const node = newNode(false, 3);
    node.campaign();
    node.step({ type: 'heartbeat', from: n(3), to: n(1), term: asTerm(1), commitIndex: asRaftIndex(0), readContext: 0 });
    expect(node.status()).toMatchObject({ role: Role.Follower, leaderId: 3, term: 1 });
  });

  it('starts a new election with a higher term when the election times out (§5.2, split votes)', () => {
    const node = newNode(false, 3);
    node.campaign();
    for (let i = 0; i < 20; i++) node.tick();
    expect(node.status()).toMatchObject({ role: Role.Candidate, term: 2 });
  });

  it('a single-node cluster elects itself at once', () => {
    const node = newNode(true, 1);
    node.campaign();
    expect(node.status()).toMatchObject({ role: Role.Leader, term: 1 });
  });
});

describe('pre-candidate (thesis §9.6)', () => {
  it('becomes a candidate only after a majority of pre-votes', () => {
    const node = newNode(true, 3);
    node.campaign();
    expect(node.status()).toMatchObject({ role: Role.PreCandidate, term: 0 });
    node.step(voteResponse(2, 1, true, 'pre-vote-response'));
    expect(node.status()).toMatchObject({ role: Role.Candidate, term: 1, votedFor: 1 });
  });

  it('falls back to follower, term unchanged, when a majority refuses', () => {
    const node = newNode(true, 3);
    node.campaign();
    node.step(voteResponse(2, 0, false, 'pre-vote-response'));
    node.step(voteResponse(3, 0, false, 'pre-vote-response'));
    expect(node.status()).toMatchObject({ role: Role.Follower, term: 0 });
  });
});

describe('role transitions', () => {
  it('throws on an impossible transition (follower -> leader)', () => {
    const raft = new Raft({
      id: n(1),
      voters: [n(1), n(2), n(3)],
      storage: new MemoryRaftLog(),
      random: new SeededRandom(1),
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 1,
    });
    expect(() => raft.becomeLeader()).toThrow(AssertionError);
  });
});

describe('cluster elections', () => {
  it('elects exactly one leader, and every node learns it', () => {
    const cluster = new TestCluster(5);
    cluster.tickAll(30);
    expect(cluster.leaders()).toHaveLength(1);
    const [leader] = cluster.leaders();
    for (const member of cluster.members.values()) expect(member.node.status().leaderId).toBe(leader);
  });

  it('a partitioned node that rejoins does not disturb a healthy leader (pre-vote)', () => {
    const cluster = new TestCluster(3);
    cluster.elect(1);
    const term = cluster.node(1).status().term;
    cluster.isolate(3);
    for (let i = 0; i < 100; i++) {
      cluster.tick(3);
      cluster.tick(1);
      cluster.tick(2);
      cluster.stabilize();
    }
    expect(cluster.node(3).status().term).toBe(term);
    cluster.heal();
    cluster.tickAll(30);
    expect(cluster.leaders()).toEqual([1]);
    expect(cluster.node(1).status().term).toBe(term);
  });

  it('without pre-vote, the same rejoin forces a new election (why pre-vote exists)', () => {
    const cluster = new TestCluster(3, { preVote: false, checkQuorum: false });
    cluster.elect(1);
    const term = cluster.node(1).status().term;
    cluster.isolate(3);
    for (let i = 0; i < 100; i++) cluster.tick(3);
    cluster.heal();
    cluster.tickAll(30);
    expect(cluster.node(1).status().term).toBeGreaterThan(term);
  });

  it('a node with a stale log cannot win: the up-to-date node is elected (§5.4.1)', () => {
    // Without pre-vote and leases, only the log comparison stands in the stale node's way.
    const cluster = new TestCluster(3, { preVote: false, checkQuorum: false });
    cluster.elect(1);
    cluster.isolate(3);
    cluster.propose(1, 'x');
    cluster.heal();
    cluster.isolate(1);
    cluster.elect(3);
    expect(cluster.node(3).status().role).not.toBe(Role.Leader);
    expect(cluster.node(2).status().votedFor).not.toBe(3);
    cluster.elect(2);
    expect(cluster.leaders()).toContain(2);
  });
});
