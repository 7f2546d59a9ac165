import { assert, asNodeId, SeededRandom } from '@rivulet/common';
import type { NodeId } from '@rivulet/common';
import type { RaftConfig } from './config.js';
import { MemoryRaftLog } from './memory-raft-log.js';
import type { Message } from './messages.js';
import { RaftNode } from './raft-node.js';
import type { Ready } from './ready.js';
import type { Entry, ReadState } from './types.js';
import { Role } from './types.js';

/** One member of a TestCluster: the node, its "disk", and what it applied. */
export interface TestMember {
  node: RaftNode;
  readonly storage: MemoryRaftLog;
  readonly applied: Entry[];
  readonly readStates: ReadState[];
}

/** Overrides for every member's config (id, voters, storage and random are set by the cluster). */
export type TestConfig = Partial<Omit<RaftConfig, 'id' | 'voters' | 'storage'>>;

const MAX_STABILIZE_ROUNDS = 10_000;

/**
 * An in-memory cluster for unit tests, after etcd's raft_test `network`: messages are
 * delivered in FIFO order by `stabilize()`, and links can be cut to isolate nodes. No
 * randomness in delivery; each node's election jitter comes from its own seeded Random.
 */
export class TestCluster {
  readonly members = new Map<NodeId, TestMember>();
  private readonly inFlight: Message[] = [];
  private readonly cutLinks = new Set<string>();
  /** Every message that was sent, for assertions on what travelled. */
  readonly sent: Message[] = [];

  /** `voterIds` defaults to every member; the others start outside the configuration. */
  constructor(
    readonly size: number,
    private readonly config: TestConfig = {},
    private readonly voterIds: readonly number[] = Array.from({ length: size }, (_, i) => i + 1),
  ) {
    for (let i = 1; i <= size; i++) {
      const id = asNodeId(i);
      const storage = new MemoryRaftLog();
      this.members.set(id, { node: this.newNode(id, storage), storage, applied: [], readStates: [] });
    }
  }

  private newNode(id: NodeId, storage: MemoryRaftLog): RaftNode {
    const voters = this.voterIds.map(asNodeId);
    return new RaftNode({
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 1,
      random: new SeededRandom(id),
      ...this.config,
      id,
      voters,
      storage,
      appliedIndex: storage.snapshot().metadata.index,
    });
  }

  member(id: number): TestMember {
    const member = this.members.get(asNodeId(id));
    assert(member !== undefined, `no member ${id}`);
    return member;
  }

  node(id: number): RaftNode {
    return this.member(id).node;
  }

  /** Restarts a node from its storage: everything not persisted is lost. */
  restart(id: number): void {
    const member = this.member(id);
    member.node = this.newNode(asNodeId(id), member.storage);
    member.applied.length = 0;
  }

  isolate(id: number): void {
    for (const other of this.members.keys()) {
      if (other === id) continue;
      this.cut(id, other);
      this.cut(other, id);
    }
  }

  cut(from: number, to: number): void {
    this.cutLinks.add(`${from}>${to}`);
  }

  heal(): void {
    this.cutLinks.clear();
  }

  /** Drives one node's Ready: persist, queue messages, apply, advance. */
  drain(id: number): void {
    const member = this.member(id);
    for (let ready = member.node.ready(); ready !== null; ready = member.node.ready()) {
      this.process(member, ready);
    }
  }

  private process(member: TestMember, ready: Ready): void {
    if (ready.snapshot !== null) member.storage.applySnapshot(ready.snapshot);
    member.storage.append(ready.entries);
    if (ready.hardState !== null) member.storage.setHardState(ready.hardState);
    for (const message of ready.messages) {
      this.sent.push(message);
      if (!this.cutLinks.has(`${message.from}>${message.to}`)) this.inFlight.push(message);
    }
    member.applied.push(...ready.committedEntries);
    member.readStates.push(...ready.readStates);
    member.node.advance(ready);
  }

  /** Delivers messages (and drains Readys) until nothing is left to do. */
  stabilize(): void {
    for (let round = 0; round < MAX_STABILIZE_ROUNDS; round++) {
      for (const id of this.members.keys()) this.drain(id);
      const message = this.inFlight.shift();
      if (message === undefined) return;
      this.member(message.to).node.step(message);
    }
    throw new Error('cluster did not stabilize');
  }

  /** Delivers the oldest message in flight and drains its receiver; false when none is left. */
  deliverOne(): boolean {
    const message = this.inFlight.shift();
    if (message === undefined) return false;
    this.member(message.to).node.step(message);
    this.drain(message.to);
    return true;
  }

  /** Drops every message in flight (as a lossy network would). */
  dropInFlight(): void {
    this.inFlight.length = 0;
  }

  tick(id: number, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.node(id).tick();
      this.drain(id);
    }
  }

  /** Ticks every node once, `times` times, stabilizing in between. */
  tickAll(times: number): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.members.keys()) this.tick(id);
      this.stabilize();
    }
  }

  /** Makes `id` campaign and runs the election to completion. */
  elect(id: number): void {
    this.node(id).campaign();
    this.stabilize();
  }

  leaders(): NodeId[] {
    return [...this.members.entries()].filter(([, member]) => member.node.status().role === Role.Leader).map(([id]) => id);
  }

  propose(id: number, text: string): void {
    const result = this.node(id).propose(new TextEncoder().encode(text));
    assert(result.accepted, `proposal at ${id} refused`);
    this.stabilize();
  }
}

export function textOf(entry: Entry): string {
  return new TextDecoder().decode(entry.data);
}
