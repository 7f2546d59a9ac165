// Leader behaviour: log replication (§5.3), the commit rule (§5.4.2), check-quorum,
// flow control, snapshots (§7), leadership transfer and ReadIndex (thesis §3.10, §6.4).
import { asNodeId, asRaftIndex, asTerm, SeededRandom } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { MemoryRaftLog } from './memory-raft-log.js';
import type { AppendRequest, Message } from './messages.js';
import { RaftNode } from './raft-node.js';
import { TestCluster, textOf } from './test-cluster.js';
import { EntryKind, RejectReason, Role } from './types.js';
import type { Entry } from './types.js';

const n = asNodeId;

function entry(index: number, term: number): Entry {
  return { index: asRaftIndex(index), term: asTerm(term), kind: EntryKind.Normal, data: new Uint8Array(1) };
}

/** A node made leader of `term` by hand, with `log` already on its disk. */
function leaderWithLog(log: Entry[], term: number, config: { voters?: number; maxInflightAppends?: number } = {}): { node: RaftNode; storage: MemoryRaftLog } {
  const storage = new MemoryRaftLog();
  storage.append(log);
  storage.setHardState({ term: asTerm(term - 1), votedFor: null, commitIndex: asRaftIndex(0) });
  const voters = Array.from({ length: config.voters ?? 3 }, (_, i) => n(i + 1));
  const node = new RaftNode({
    id: n(1),
    voters,
    storage,
    random: new SeededRandom(3),
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: 2,
    preVote: false,
    maxInflightAppends: config.maxInflightAppends ?? 16,
  });
  node.campaign();
  for (const voter of voters.slice(1)) node.step({ type: 'vote-response', from: voter, to: n(1), term: asTerm(term), granted: true });
  return { node, storage };
}

function drainMessages(node: RaftNode, storage: MemoryRaftLog): Message[] {
  const messages: Message[] = [];
  for (let ready = node.ready(); ready !== null; ready = node.ready()) {
    storage.append(ready.entries);
    if (ready.hardState !== null) storage.setHardState(ready.hardState);
    messages.push(...ready.messages);
    node.advance(ready);
  }
  return messages;
}

function ack(from: number, term: number, matchIndex: number): Message {
  return {
    type: 'append-response',
    from: n(from),
    to: n(1),
    term: asTerm(term),
    success: true,
    matchIndex: asRaftIndex(matchIndex),
    rejectedIndex: asRaftIndex(0),
    hintIndex: asRaftIndex(0),
    hintTerm: asTerm(0),
  };
}

describe('leader: election aftermath (§5.2, §8)', () => {
  it('appends a no-op of its term and replicates it at once', () => {
    const { node, storage } = leaderWithLog([], 1);
    const messages = drainMessages(node, storage);
    expect(storage.lastIndex()).toBe(1);
    expect(storage.entries(asRaftIndex(1), asRaftIndex(2))[0]).toMatchObject({ kind: EntryKind.Noop, term: 1 });
    expect(messages.filter((m) => m.type === 'append').map((m) => m.to)).toEqual([2, 3]);
  });

  it('sends heartbeats every heartbeat interval', () => {
    const { node, storage } = leaderWithLog([], 1);
    drainMessages(node, storage);
    node.tick();
    expect(drainMessages(node, storage).filter((m) => m.type === 'heartbeat')).toHaveLength(0);
    node.tick();
    expect(drainMessages(node, storage).filter((m) => m.type === 'heartbeat').map((m) => m.to)).toEqual([2, 3]);
  });
});

describe('leader: commit rule (§5.4.2, figure 8)', () => {
  it('does not commit an entry of an earlier term by counting replicas', () => {
    // Entry 2 (term 2) is on the leader and, after the ack, on node 2: a majority. Yet it
    // must not be committed until the leader's own no-op (index 3, term 4) is replicated.
    const { node, storage } = leaderWithLog([entry(1, 1), entry(2, 2)], 4);
    drainMessages(node, storage);
    node.step(ack(2, 4, 2));
    expect(node.status().commitIndex).toBe(0);
    node.step(ack(2, 4, 3));
    expect(node.status().commitIndex).toBe(3);
  });

  it('commits an entry of its own term once a majority holds it (§5.3)', () => {
    const { node, storage } = leaderWithLog([], 1, { voters: 5 });
    drainMessages(node, storage);
    node.step(ack(2, 1, 1));
    expect(node.status().commitIndex).toBe(0);
    node.step(ack(3, 1, 1));
    expect(node.status().commitIndex).toBe(1);
  });
});

describe('leader: figure 8 in a cluster (§5.4.2)', () => {
  it('a re-elected leader commits its old-term entry only together with an entry of its term', () => {
    // Node 1 (term 1) appends 'old' at index 2 and is cut off. Node 3 wins term 2 and appends
    // its no-op at index 2, then is cut off before it spreads. Node 1 wins term 3 and copies
    // (2, term 1) to node 2, one entry per message: a majority now holds it, yet it must stay
    // uncommitted until (3, term 3) is on a majority too — node 3 could still win with (2, term 2).
    const cluster = new TestCluster(3, { preVote: false, checkQuorum: false, maxEntriesPerMessage: 1 });
    cluster.elect(1);
    cluster.isolate(1);
    cluster.node(1).propose(new TextEncoder().encode('old'));
    cluster.drain(1);
    cluster.node(3).campaign();
    cluster.drain(3);
    while (cluster.node(3).status().role !== Role.Leader) expect(cluster.deliverOne()).toBe(true);
    cluster.dropInFlight();
    cluster.heal();
    cluster.isolate(3);
    expect(cluster.node(3).termAt(2)).toBe(2);
    // Node 1 restarts as a follower; its first campaign (term 2) fails, node 2 having voted.
    cluster.restart(1);
    cluster.elect(1);
    expect(cluster.node(1).status()).toMatchObject({ role: Role.Candidate, term: 2 });
    cluster.node(1).campaign();
    cluster.drain(1);
    let sawOldEntryOnMajority = false;
    while (cluster.deliverOne()) {
      const leader = cluster.node(1);
      const follower = cluster.node(2);
      if (follower.termAt(2) === 1 && follower.status().lastIndex === 2) sawOldEntryOnMajority = true;
      if (leader.status().commitIndex >= 2) expect(follower.termAt(3)).toBe(leader.status().term);
    }
    expect(sawOldEntryOnMajority).toBe(true);
    expect(cluster.node(1).status()).toMatchObject({ role: Role.Leader, commitIndex: 3 });
  });
});

describe('leader: check-quorum', () => {
  it('steps down after an election timeout without hearing from a majority', () => {
    const { node, storage } = leaderWithLog([], 1);
    drainMessages(node, storage);
    for (let i = 0; i < 20; i++) node.tick();
    expect(node.status()).toMatchObject({ role: Role.Follower, leaderId: null, term: 1 });
  });

  it('stays leader while a majority answers heartbeats', () => {
    const { node, storage } = leaderWithLog([], 1);
    drainMessages(node, storage);
    for (let i = 0; i < 50; i++) {
      node.tick();
      node.step({ type: 'heartbeat-response', from: n(2), to: n(1), term: asTerm(1), readContext: 0 });
      drainMessages(node, storage);
    }
    expect(node.status().role).toBe(Role.Leader);
  });
});

describe('leader: replication flow control', () => {
  it('probes one message at a time, then pipelines up to the in-flight window', () => {
    const { node, storage } = leaderWithLog([], 1, { maxInflightAppends: 2 });
    drainMessages(node, storage);
    // Follower 2 is probing (its first append is unanswered): new proposals do not go out to it.
    for (let i = 0; i < 5; i++) node.propose(new Uint8Array([i]));
    expect(drainMessages(node, storage).filter((m) => m.type === 'append' && m.to === 2)).toHaveLength(0);
    // Its answer switches it to replicate: the rest is sent, bounded by the window of 2.
    node.step(ack(2, 1, 1));
    for (let i = 0; i < 5; i++) node.propose(new Uint8Array([i]));
    const appends = drainMessages(node, storage).filter((m): m is AppendRequest => m.type === 'append' && m.to === 2);
    expect(appends.length).toBeGreaterThan(0);
    expect(appends.filter((m) => m.entries.length > 0).length).toBeLessThanOrEqual(2);
  });

  it('batches by entry count and by bytes', () => {
    const cluster = new TestCluster(3, { maxEntriesPerMessage: 3, maxBytesPerMessage: 1 });
    cluster.elect(1);
    cluster.isolate(2);
    for (let i = 0; i < 6; i++) cluster.propose(1, `v${i}`);
    cluster.heal();
    cluster.sent.length = 0;
    cluster.tickAll(4);
    const sizes = cluster.sent.filter((m): m is AppendRequest => m.type === 'append' && m.to === 2).map((m) => m.entries.length);
    expect(Math.max(...sizes)).toBe(1);
  });

  it('skips a whole divergent term per round trip using conflict hints (fast back-off)', () => {
    // Node 1 leads term 1, is cut off, and appends 30 entries nobody else sees. Node 2 leads
    // term 2 and writes 30 entries; node 3 then leads term 3 with that log. When node 1
    // rejoins, probing one index per round trip would take 30 rejections; hints take one.
    const cluster = new TestCluster(3, { preVote: false, checkQuorum: false });
    cluster.elect(1);
    cluster.propose(1, 'base');
    cluster.isolate(1);
    for (let i = 0; i < 30; i++) cluster.node(1).propose(new Uint8Array([i]));
    cluster.drain(1);
    cluster.elect(2);
    for (let i = 0; i < 30; i++) cluster.propose(2, `new${i}`);
    cluster.elect(3);
    expect(cluster.leaders()).toContain(3);
    cluster.heal();
    cluster.sent.length = 0;
    cluster.tickAll(5);
    const rejections = cluster.sent.filter((m) => m.type === 'append-response' && m.from === 1 && !m.success);
    expect(rejections.length).toBeGreaterThanOrEqual(1);
    expect(rejections.length).toBeLessThanOrEqual(2);
    expect(cluster.node(1).status().lastIndex).toBe(cluster.node(3).status().lastIndex);
    expect(cluster.member(1).applied.map(textOf).filter((t) => t.startsWith('new'))).toHaveLength(30);
  });
});

describe('leader: snapshots (§7)', () => {
  it('sends a snapshot in chunks to a follower whose entries were compacted, which installs it', () => {
    const cluster = new TestCluster(3, { maxBytesPerMessage: 4 });
    cluster.elect(1);
    cluster.isolate(3);
    for (let i = 0; i < 10; i++) cluster.propose(1, `v${i}`);
    const leader = cluster.member(1);
    const appliedIndex = leader.node.status().appliedIndex;
    leader.storage.createSnapshot(appliedIndex, new TextEncoder().encode("state-machine-image"), leader.node.status().confState);
    leader.storage.compact(appliedIndex);
    cluster.heal();
    cluster.sent.length = 0;
    cluster.tickAll(10);
    const chunks = cluster.sent.filter((m) => m.type === 'snapshot-chunk');
    expect(chunks.length).toBeGreaterThanOrEqual(5);
    const follower = cluster.member(3);
    expect(follower.storage.snapshot().metadata.index).toBe(appliedIndex);
    expect(new TextDecoder().decode(follower.storage.snapshot().data)).toBe('state-machine-image');
    expect(follower.node.status().appliedIndex).toBe(leader.node.status().appliedIndex);
    cluster.propose(1, 'after');
    expect(follower.applied.map(textOf)).toContain('after');
  });
});

describe('leader: snapshot transfer under faults (§7)', () => {
  function laggingFollowerCluster(): TestCluster {
    const cluster = new TestCluster(3, { maxBytesPerMessage: 4 });
    cluster.elect(1);
    cluster.isolate(3);
    for (let i = 0; i < 10; i++) cluster.propose(1, `v${i}`);
    const leader = cluster.member(1);
    const appliedIndex = leader.node.status().appliedIndex;
    leader.storage.createSnapshot(appliedIndex, new TextEncoder().encode('a-snapshot-of-several-chunks'), leader.node.status().confState);
    leader.storage.compact(appliedIndex);
    cluster.heal();
    return cluster;
  }

  it('resumes from the start when the receiver restarts mid-transfer', () => {
    const cluster = laggingFollowerCluster();
    cluster.tick(1, 2);
    let chunksDelivered = 0;
    while (chunksDelivered < 3 && cluster.deliverOne()) {
      chunksDelivered = cluster.sent.filter((m) => m.type === 'snapshot-chunk-response').length;
    }
    expect(chunksDelivered).toBe(3);
    cluster.restart(3);
    cluster.tickAll(30);
    expect(new TextDecoder().decode(cluster.member(3).storage.snapshot().data)).toBe('a-snapshot-of-several-chunks');
    expect(cluster.node(3).status().commitIndex).toBe(cluster.node(1).status().commitIndex);
  });

  it('recovers from lost chunks by resending on heartbeats', () => {
    const cluster = laggingFollowerCluster();
    for (let round = 0; round < 40; round++) {
      cluster.tick(1);
      cluster.deliverOne();
      if (round % 3 === 0) cluster.dropInFlight();
      cluster.stabilize();
    }
    expect(cluster.member(3).storage.snapshot().metadata.index).toBeGreaterThan(0);
    expect(cluster.node(3).status().commitIndex).toBe(cluster.node(1).status().commitIndex);
  });
});

describe('leader: leadership transfer (thesis §3.10)', () => {
  it('hands leadership to an up-to-date follower, which wins without waiting for a timeout', () => {
    const cluster = new TestCluster(3);
    cluster.elect(1);
    cluster.propose(1, 'x');
    const term = cluster.node(1).status().term;
    expect(cluster.node(1).transferLeadership(n(2)).accepted).toBe(true);
    cluster.stabilize();
    expect(cluster.leaders()).toEqual([2]);
    expect(cluster.node(2).status().term).toBe(term + 1);
  });

  it('refuses proposals while a transfer is in progress', () => {
    const cluster = new TestCluster(3);
    cluster.elect(1);
    cluster.isolate(2);
    cluster.node(1).transferLeadership(n(2));
    expect(cluster.node(1).propose(new Uint8Array(1))).toMatchObject({ accepted: false, reason: RejectReason.LeadershipTransferInProgress });
  });
});

describe('leader: ReadIndex (thesis §6.4)', () => {
  it('answers a read with the commit index after a heartbeat round confirms leadership', () => {
    const cluster = new TestCluster(3);
    cluster.elect(1);
    cluster.propose(1, 'x');
    const commitIndex = cluster.node(1).status().commitIndex;
    expect(cluster.node(1).readIndex(7).accepted).toBe(true);
    cluster.stabilize();
    expect(cluster.member(1).readStates).toEqual([{ requestId: 7, index: commitIndex }]);
  });

  it('serves a follower read through the leader', () => {
    const cluster = new TestCluster(3);
    cluster.elect(1);
    cluster.propose(1, 'x');
    expect(cluster.node(3).readIndex(9).accepted).toBe(true);
    cluster.stabilize();
    expect(cluster.member(3).readStates).toEqual([{ requestId: 9, index: cluster.node(1).status().commitIndex }]);
  });

  it('does not answer without a quorum (a deposed leader cannot serve stale reads)', () => {
    const cluster = new TestCluster(3);
    cluster.elect(1);
    cluster.propose(1, 'x');
    cluster.isolate(1);
    cluster.node(1).readIndex(1);
    cluster.stabilize();
    expect(cluster.member(1).readStates).toEqual([]);
  });
});
