import { assert, AssertionError, asNodeId, asRaftIndex, SeededRandom } from '@rivulet/common';
import type { NodeId, Random } from '@rivulet/common';
import { ConfigChangeType, decodeConfigChange, EntryKind, MemoryRaftLog, RaftNode, RejectReason, Role } from '@rivulet/raft';
import type { ConfigChange, ConfState, Message, RaftConfig, Ready } from '@rivulet/raft';
import { InvariantChecker, InvariantViolation } from './checker.js';
import { EventQueue } from './event-queue.js';
import type { FaultMix } from './fault-mix.js';
import { SimNetwork } from './network.js';
import { encodeProposal, SimStateMachine } from './state-machine.js';
import { describeMessage, TraceRing } from './trace.js';

export interface SimulationOptions {
  readonly seed: number;
  readonly nodeCount: number;
  readonly faultMix: FaultMix;
  /** Events in the fault phase; then everything heals and liveness mode starts. */
  readonly faultPhaseEvents: number;
  /** Liveness mode must converge within this many events, or the run fails. */
  readonly livenessEventsMax: number;
  /** How many recent events a failure report shows. */
  readonly traceLength?: number;
  /** Nominal tick interval; each node drifts from it by up to the mix's maxClockDrift. */
  readonly tickIntervalMs?: number;
}

export interface SimulationStats {
  events: number;
  simulatedMs: number;
  messagesSent: number;
  proposalsAcknowledged: number;
  readsChecked: number;
  leadersElected: number;
  crashes: number;
  snapshotChunksSent: number;
  membershipChangesProposed: number;
  /** Removed nodes whose disk was wiped, rejoining under a fresh id. */
  disksWiped: number;
  /** Of those, how many were promoted to voter (the promotion applied by some node). */
  rejoinedVoters: number;
  transfersStarted: number;
  highestAppliedIndex: number;
  /** Events liveness mode needed to converge. */
  livenessEvents: number;
}

export interface SimulationResult {
  readonly ok: boolean;
  readonly seed: number;
  readonly description: string;
  readonly stats: SimulationStats;
  /** Why the run failed, with the seed and how to replay it. */
  readonly failure?: string;
  /** The last events before the failure, oldest first. */
  readonly trace?: readonly string[];
}

type SimEvent =
  | { readonly kind: 'tick'; readonly nodeId: NodeId; readonly incarnation: number }
  | { readonly kind: 'deliver'; readonly message: Message }
  | { readonly kind: 'propose' }
  | { readonly kind: 'read' }
  | { readonly kind: 'fault' }
  | { readonly kind: 'restart'; readonly nodeId: NodeId }
  | { readonly kind: 'write-done'; readonly nodeId: NodeId; readonly incarnation: number }
  | { readonly kind: 'new-leader-fault'; readonly nodeId: NodeId; readonly incarnation: number }
  | { readonly kind: 'unclog'; readonly from: NodeId; readonly to: NodeId };

/** One simulated server: its durable disk survives crashes, everything else does not. */
interface SimNode {
  readonly id: NodeId;
  readonly disk: MemoryRaftLog;
  readonly tickIntervalMs: number;
  raft: RaftNode | null;
  stateMachine: SimStateMachine;
  /** With an asynchronous disk: the Ready whose write is in progress. */
  writing: Ready | null;
  /** The membership as of the state machine's applied index (goes into snapshots). */
  confState: ConfState;
  incarnation: number;
  /** Its disk was wiped and the server rejoined under a new id: this id never runs again. */
  retired: boolean;
}

interface PendingProposal {
  readonly nodeId: NodeId;
  readonly incarnation: number;
}

interface PendingRead {
  readonly nodeId: NodeId;
  readonly incarnation: number;
  /** Every proposal acknowledged before the read began must be visible at its index. */
  readonly requiredIndex: number;
}

/** Tunables drawn from the seed so that one seed also explores one configuration. */
interface RunShape {
  readonly maxEntriesPerMessage: number;
  readonly maxBytesPerMessage: number;
  readonly maxInflightAppends: number;
  readonly snapshotEveryEntries: number;
  readonly compactionTailEntries: number;
  /** 0: the driver processes each Ready synchronously; otherwise its disk write takes this long. */
  readonly diskLatencyMs: number;
}

const MAX_READY_ROUNDS_PER_EVENT = 64;
const EVENT_QUEUE_CAPACITY = 1_000_000;
/** Liveness mode keeps proposing until this many new proposals were acknowledged. */
const LIVENESS_ACKS_WANTED = 3;

/**
 * A deterministic Raft cluster in one process (after KRaft's RaftEventSimulationTest and
 * TigerBeetle's VOPR): a simulated clock and event queue, a faulty network, disks that lose
 * what was not persisted, crashes between the steps of the Ready protocol, and clock drift.
 * Everything random comes from one SeededRandom, so a seed replays a run exactly.
 */
export class Simulation {
  private readonly random: Random;
  private readonly queue = new EventQueue<SimEvent>(EVENT_QUEUE_CAPACITY);
  private readonly network: SimNetwork;
  private readonly checker = new InvariantChecker();
  private readonly trace: TraceRing;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly liveNodes = new Map<NodeId, { raft: RaftNode; incarnation: number }>();
  private readonly pendingProposals = new Map<number, PendingProposal>();
  private readonly pendingReads = new Map<number, PendingRead>();
  private readonly shape: RunShape;
  private readonly tickIntervalMs: number;
  private nowMs = 0;
  private phase: 'fault' | 'liveness' = 'fault';
  private nextProposalId = 1;
  private nextReadId = 1;
  private clientLeaderHint: NodeId | null = null;
  private highestAcknowledgedIndex = 0;
  private livenessAcknowledged = 0;
  /** The id the next wiped server rejoins under: ids are never reused. */
  private nextNodeId: number;
  /** Ids of rejoined (wiped) servers not yet promoted: promoted only once caught up. */
  private readonly rejoiningIds = new Set<NodeId>();
  /** Every id a wiped server rejoined under, until its promotion to voter was applied. */
  private readonly rejoinedNotPromoted = new Set<NodeId>();
  readonly stats: SimulationStats = {
    events: 0,
    simulatedMs: 0,
    messagesSent: 0,
    proposalsAcknowledged: 0,
    readsChecked: 0,
    leadersElected: 0,
    crashes: 0,
    snapshotChunksSent: 0,
    membershipChangesProposed: 0,
    disksWiped: 0,
    rejoinedVoters: 0,
    transfersStarted: 0,
    highestAppliedIndex: 0,
    livenessEvents: 0,
  };

  constructor(private readonly options: SimulationOptions) {
    assert(options.nodeCount >= 1 && options.nodeCount <= 9, 'node count in [1, 9]');
    this.random = new SeededRandom(options.seed);
    this.network = new SimNetwork({ ...options.faultMix.network }, this.random);
    this.trace = new TraceRing(options.traceLength ?? 200);
    this.tickIntervalMs = options.tickIntervalMs ?? 10;
    this.shape = this.drawShape();
    for (let i = 1; i <= options.nodeCount; i++) this.createNode(asNodeId(i));
    this.nextNodeId = options.nodeCount + 1;
  }

  /** Ids of the servers that exist (not retired by a disk wipe). */
  private activeIds(): NodeId[] {
    return [...this.nodes.values()].filter((node) => !node.retired).map((node) => node.id);
  }

  get description(): string {
    const { seed, nodeCount, faultMix } = this.options;
    return `seed=${seed} nodes=${nodeCount} mix=${faultMix.name} shape=${JSON.stringify(this.shape)}`;
  }

  private drawShape(): RunShape {
    const snapshotsOn = this.random.nextFloat() < 0.7;
    return {
      maxEntriesPerMessage: 1 + this.random.nextInt(16),
      maxBytesPerMessage: [64, 256, 4096][this.random.nextInt(3)] ?? 256,
      maxInflightAppends: 1 + this.random.nextInt(8),
      snapshotEveryEntries: snapshotsOn ? 10 + this.random.nextInt(90) : 0,
      compactionTailEntries: this.random.nextInt(10),
      diskLatencyMs: this.random.nextFloat() < 0.5 ? 0 : 1 + this.random.nextInt(4),
    };
  }

  private createNode(id: NodeId): void {
    const drift = (this.random.nextFloat() * 2 - 1) * this.options.faultMix.maxClockDrift;
    const node: SimNode = {
      id,
      disk: new MemoryRaftLog(),
      tickIntervalMs: Math.max(1, Math.round(this.tickIntervalMs * (1 + drift))),
      raft: null,
      stateMachine: new SimStateMachine(),
      writing: null,
      // A server that joins later also boots with the bootstrap membership, which does not
      // name it, so it never campaigns; replaying the log from index 1 (or a snapshot) then
      // brings it to the current membership.
      confState: this.bootstrapConfState(),
      incarnation: 0,
      retired: false,
    };
    this.nodes.set(id, node);
    this.start(node);
  }

  private bootstrapConfState(): ConfState {
    return { voters: allIds(this.options.nodeCount), learners: [] };
  }

  private raftConfig(node: SimNode): RaftConfig {
    return {
      id: node.id,
      voters: node.confState.voters,
      learners: node.confState.learners,
      storage: node.disk,
      random: this.random,
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 2,
      maxEntriesPerMessage: this.shape.maxEntriesPerMessage,
      maxBytesPerMessage: this.shape.maxBytesPerMessage,
      maxInflightAppends: this.shape.maxInflightAppends,
      maxUncommittedEntries: 256,
      appliedIndex: node.disk.snapshot().metadata.index,
    };
  }

  /** Boots (or reboots) a node from its disk: the state machine comes from the latest snapshot. */
  private start(node: SimNode): void {
    const snapshot = node.disk.snapshot();
    node.stateMachine = SimStateMachine.decode(snapshot.data);
    // The state machine restarts from the snapshot, so membership does too; the driver
    // re-applies later config changes as it re-applies the committed entries.
    node.confState = snapshot.metadata.index > 0 ? snapshot.metadata.confState : this.bootstrapConfState();
    assert(node.stateMachine.appliedIndex === snapshot.metadata.index, 'snapshot data matches its metadata');
    this.checker.onRestore(node.id, node.stateMachine.appliedIndex, node.stateMachine.digest);
    node.incarnation++;
    node.raft = new RaftNode(this.raftConfig(node));
    this.liveNodes.set(node.id, { raft: node.raft, incarnation: node.incarnation });
    const firstTickMs = this.nowMs + 1 + this.random.nextInt(node.tickIntervalMs);
    this.queue.push(firstTickMs, { kind: 'tick', nodeId: node.id, incarnation: node.incarnation });
  }

  private crash(node: SimNode, why: string): void {
    if (node.raft === null) return;
    this.trace.add(`t=${this.nowMs} CRASH node ${node.id} (${why})`);
    node.raft = null;
    node.writing = null;
    node.incarnation++;
    this.liveNodes.delete(node.id);
    this.stats.crashes++;
    for (const [proposalId, pending] of this.pendingProposals) if (pending.nodeId === node.id) this.pendingProposals.delete(proposalId);
    if (this.phase === 'fault') this.queue.push(this.nowMs + 20 + this.random.nextInt(300), { kind: 'restart', nodeId: node.id });
  }

  /** Runs the fault phase, heals, then runs liveness mode until convergence or the cap. */
  run(): SimulationResult {
    this.schedule();
    const cap = this.options.faultPhaseEvents + this.options.livenessEventsMax;
    try {
      for (let event = 0; event < cap; event++) {
        if (event === this.options.faultPhaseEvents) this.heal();
        this.step();
        if (this.phase === 'liveness') this.stats.livenessEvents++;
        if (this.phase === 'liveness' && this.converged()) return this.result(null);
      }
      return this.result(`liveness: no convergence within ${this.options.livenessEventsMax} events after healing (${this.convergenceReport()})`);
    } catch (error) {
      if (error instanceof InvariantViolation || error instanceof AssertionError) return this.result(`${error.name}: ${error.message}`);
      throw error;
    }
  }

  private schedule(): void {
    this.queue.push(this.nowMs + 5, { kind: 'propose' });
    this.queue.push(this.nowMs + 50, { kind: 'read' });
    this.queue.push(this.nowMs + this.options.faultMix.faultIntervalMs, { kind: 'fault' });
  }

  private step(): void {
    const next = this.queue.pop();
    if (next === null) throw new InvariantViolation('the event queue ran dry');
    assert(next.timeMs >= this.nowMs, 'simulated time never goes back');
    this.nowMs = next.timeMs;
    this.stats.events++;
    this.stats.simulatedMs = this.nowMs;
    const event = next.item;
    const timeMs = this.nowMs;
    this.trace.add(() => `t=${timeMs} ${describeEvent(event)}`);
    this.handle(event);
    this.checker.afterEvent(this.liveNodes);
    this.noteLeaders();
  }

  private handle(event: SimEvent): void {
    switch (event.kind) {
      case 'tick':
        this.handleTick(event.nodeId, event.incarnation);
        return;
      case 'deliver':
        this.handleDeliver(event.message);
        return;
      case 'propose':
        this.handlePropose();
        return;
      case 'read':
        this.handleRead();
        return;
      case 'fault':
        this.handleFault();
        return;
      case 'restart':
        this.handleRestart(event.nodeId);
        return;
      case 'write-done':
        this.handleWriteDone(event.nodeId, event.incarnation);
        return;
      case 'new-leader-fault':
        this.handleNewLeaderFault(event.nodeId, event.incarnation);
        return;
      case 'unclog':
        this.network.unclog(event.from, event.to);
        return;
    }
  }

  /** Crashes or isolates a freshly elected leader (see FaultMix.newLeaderFaultProbability). */
  private handleNewLeaderFault(nodeId: NodeId, incarnation: number): void {
    const node = this.node(nodeId);
    if (this.phase !== 'fault' || node.raft === null || node.incarnation !== incarnation) return;
    if (this.random.nextFloat() < 0.5) {
      this.crash(node, 'new leader fault');
      return;
    }
    const others = this.activeIds().filter((id) => id !== nodeId);
    this.network.partition([nodeId], others);
    this.trace.add(`t=${this.nowMs} PARTITION [${nodeId}] | [${others.join(',')}] (new leader fault)`);
  }

  private node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    assert(node !== undefined, `unknown node ${id}`);
    return node;
  }

  private handleTick(nodeId: NodeId, incarnation: number): void {
    const node = this.node(nodeId);
    if (node.raft === null || node.incarnation !== incarnation) return;
    node.raft.tick();
    this.drive(node);
    if (node.incarnation === incarnation) this.queue.push(this.nowMs + node.tickIntervalMs, { kind: 'tick', nodeId, incarnation });
  }

  private handleDeliver(message: Message): void {
    const node = this.node(message.to);
    if (node.raft === null || !this.network.isConnected(message.from, message.to)) return;
    node.raft.step(message);
    this.drive(node);
  }

  private handleRestart(nodeId: NodeId): void {
    const node = this.node(nodeId);
    if (node.raft !== null || node.retired) return;
    this.trace.add(`t=${this.nowMs} RESTART node ${nodeId}`);
    this.start(node);
  }

  /** The client sends one new value to the node it believes leads (or any live node). */
  private handlePropose(): void {
    // Proposals accepted by a leader that then loses office are never acknowledged, so
    // liveness mode keeps proposing until enough new ones were (the event cap bounds it).
    const proposing = this.phase === 'fault' || this.livenessAcknowledged < LIVENESS_ACKS_WANTED;
    if (!proposing) return;
    this.queue.push(this.nowMs + 2 + this.random.nextInt(18), { kind: 'propose' });
    const node = this.clientTarget();
    if (node === null || node.raft === null) return;
    const proposalId = this.nextProposalId++;
    const result = node.raft.propose(encodeProposal(proposalId));
    if (result.accepted) {
      this.pendingProposals.set(proposalId, { nodeId: node.id, incarnation: node.incarnation });
      this.drive(node);
    } else {
      this.clientLeaderHint = result.leaderId;
    }
  }

  /** A linearizable read through ReadIndex at a random live node. */
  private handleRead(): void {
    this.queue.push(this.nowMs + 10 + this.random.nextInt(40), { kind: 'read' });
    const live = [...this.liveNodes.keys()];
    const nodeId = live[this.random.nextInt(live.length)];
    if (nodeId === undefined) return;
    const node = this.node(nodeId);
    if (node.raft === null) return;
    const requestId = this.nextReadId++;
    const result = node.raft.readIndex(requestId);
    if (!result.accepted) return;
    this.pendingReads.set(requestId, { nodeId, incarnation: node.incarnation, requiredIndex: this.highestAcknowledgedIndex });
    if (this.pendingReads.size > 10_000) this.pendingReads.delete(this.pendingReads.keys().next().value ?? 0);
    this.drive(node);
  }

  private clientTarget(): SimNode | null {
    const hinted = this.clientLeaderHint === null ? undefined : this.nodes.get(this.clientLeaderHint);
    if (hinted !== undefined && hinted.raft !== null && this.random.nextFloat() < 0.9) return hinted;
    const live = [...this.liveNodes.keys()];
    const pick = live[this.random.nextInt(live.length)];
    return pick === undefined ? null : this.node(pick);
  }

  /**
   * The node's driver: persist, then send, then apply, then advance — the order `Ready`
   * demands. In crash-prone mixes the node may die between any two of those steps.
   */
  private drive(node: SimNode): void {
    if (this.shape.diskLatencyMs > 0) {
      this.startWrite(node);
      return;
    }
    for (let round = 0; round < MAX_READY_ROUNDS_PER_EVENT; round++) {
      const ready = node.raft?.ready() ?? null;
      if (ready === null) return;
      if (!this.finishReady(node, ready)) return;
    }
    throw new AssertionError(`node ${node.id} still has work after ${MAX_READY_ROUNDS_PER_EVENT} Ready rounds`);
  }

  /**
   * The asynchronous driver (runs with disk latency): the Ready's write completes later, and
   * meanwhile the node keeps ticking and stepping messages — the interleaving a real driver
   * on an async disk produces. A crash before the write completes loses the whole Ready.
   */
  private startWrite(node: SimNode): void {
    if (node.raft === null || node.writing !== null) return;
    const ready = node.raft.ready();
    if (ready === null) return;
    node.writing = ready;
    this.queue.push(this.nowMs + this.shape.diskLatencyMs, { kind: 'write-done', nodeId: node.id, incarnation: node.incarnation });
  }

  private handleWriteDone(nodeId: NodeId, incarnation: number): void {
    const node = this.node(nodeId);
    const ready = node.writing;
    if (node.raft === null || node.incarnation !== incarnation || ready === null) return;
    node.writing = null;
    if (this.finishReady(node, ready)) this.startWrite(node);
  }

  /** Persist, send, apply, advance. Returns false when the node crashed part-way. */
  private finishReady(node: SimNode, ready: Ready): boolean {
    if (this.crashesMidReady(node, 'before persisting')) return false;
    this.persist(node, ready);
    if (this.crashesMidReady(node, 'after persisting, before sending')) return false;
    this.sendAll(ready.messages);
    if (this.crashesMidReady(node, 'after sending, before applying')) return false;
    this.apply(node, ready);
    node.raft?.advance(ready);
    this.maybeSnapshot(node);
    return node.raft !== null;
  }

  private crashesMidReady(node: SimNode, point: string): boolean {
    const probability = this.phase === 'fault' ? this.options.faultMix.readyCrashProbability : 0;
    if (probability === 0 || this.random.nextFloat() >= probability) return false;
    this.crash(node, `mid-Ready: ${point}`);
    return true;
  }

  private persist(node: SimNode, ready: Ready): void {
    if (ready.snapshot !== null) node.disk.applySnapshot(ready.snapshot);
    node.disk.append(ready.entries);
    if (ready.hardState !== null) node.disk.setHardState(ready.hardState);
    this.checker.onPersist(node.id, ready.entries, ready.hardState, node.disk);
  }

  private sendAll(messages: readonly Message[]): void {
    for (const message of messages) {
      this.stats.messagesSent++;
      if (message.type === 'snapshot-chunk') this.stats.snapshotChunksSent++;
      for (const delayMs of this.network.deliveryDelaysMs(message.from, message.to)) {
        this.queue.push(this.nowMs + delayMs, { kind: 'deliver', message });
      }
    }
  }

  private apply(node: SimNode, ready: Ready): void {
    if (ready.snapshot !== null) {
      node.stateMachine = SimStateMachine.decode(ready.snapshot.data);
      node.confState = ready.snapshot.metadata.confState;
      assert(node.stateMachine.appliedIndex === ready.snapshot.metadata.index, 'snapshot data matches its metadata');
      this.checker.onRestore(node.id, node.stateMachine.appliedIndex, node.stateMachine.digest);
    }
    for (const entry of ready.committedEntries) {
      const proposalId = node.stateMachine.apply(entry);
      this.checker.onApply(node.id, entry, node.stateMachine.digest);
      if (entry.kind === EntryKind.ConfigChange && node.raft !== null) {
        const change = decodeConfigChange(entry.data);
        node.confState = node.raft.applyConfigChange(change);
        if (change.type === ConfigChangeType.AddVoter && this.rejoinedNotPromoted.delete(change.nodeId)) this.stats.rejoinedVoters++;
      }
      if (proposalId !== 0) this.maybeAcknowledge(node, proposalId, entry.index);
    }
    this.stats.highestAppliedIndex = Math.max(this.stats.highestAppliedIndex, node.stateMachine.appliedIndex);
    for (const readState of ready.readStates) this.checkRead(node, readState.requestId, readState.index);
  }

  /** A proposal is acknowledged when the node that accepted it as leader applies it. */
  private maybeAcknowledge(node: SimNode, proposalId: number, index: number): void {
    const pending = this.pendingProposals.get(proposalId);
    if (pending === undefined || pending.nodeId !== node.id || pending.incarnation !== node.incarnation) return;
    this.pendingProposals.delete(proposalId);
    this.stats.proposalsAcknowledged++;
    this.highestAcknowledgedIndex = Math.max(this.highestAcknowledgedIndex, index);
    if (this.phase === 'liveness') this.livenessAcknowledged++;
  }

  private checkRead(node: SimNode, requestId: number, index: number): void {
    const pending = this.pendingReads.get(requestId);
    if (pending === undefined || pending.nodeId !== node.id || pending.incarnation !== node.incarnation) return;
    this.pendingReads.delete(requestId);
    this.stats.readsChecked++;
    if (index < pending.requiredIndex) {
      throw new InvariantViolation(`linearizable read: node ${node.id} read at index ${index}, but index ${pending.requiredIndex} was acknowledged before the read began`);
    }
  }

  /** The driver snapshots its state machine every so often and compacts the log behind it. */
  private maybeSnapshot(node: SimNode): void {
    const every = this.shape.snapshotEveryEntries;
    const machine = node.stateMachine;
    const snapshotIndex = node.disk.snapshot().metadata.index;
    if (every === 0 || machine.appliedIndex - snapshotIndex < every) return;
    const snapshot = node.disk.createSnapshot(asRaftIndex(machine.appliedIndex), machine.encode(), node.confState);
    const compactTo = Math.max(0, snapshot.metadata.index - this.shape.compactionTailEntries);
    node.disk.compact(asRaftIndex(compactTo));
  }

  private handleFault(): void {
    if (this.phase !== 'fault') return;
    const mix = this.options.faultMix;
    this.queue.push(this.nowMs + 1 + this.random.nextInt(2 * mix.faultIntervalMs), { kind: 'fault' });
    const weights = [mix.partitionWeight, mix.oneWayCutWeight, mix.crashWeight, mix.healWeight, mix.membershipWeight, mix.transferWeight, mix.swizzleWeight, mix.wipeWeight];
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    if (total === 0) return;
    let draw = this.random.nextFloat() * total;
    let kind = 0;
    for (; kind < weights.length - 1; kind++) {
      draw -= weights[kind] ?? 0;
      if (draw < 0) break;
    }
    const faults = [
      () => this.partitionFault(),
      () => this.oneWayFault(),
      () => this.crashFault(),
      () => this.healFault(),
      () => this.membershipFault(),
      () => this.transferFault(),
      () => this.swizzleFault(),
      () => this.wipeFault(),
    ];
    faults[kind]?.();
  }

  private currentLeader(): NodeId | null {
    for (const [id, node] of this.liveNodes) if (node.raft.status().role === Role.Leader) return id;
    return null;
  }

  /** A symmetric split into two random groups; half the time the leader is isolated. */
  private partitionFault(): void {
    const ids = shuffle(this.activeIds(), this.random);
    const leader = this.currentLeader();
    let groupA: NodeId[];
    if (leader !== null && this.random.nextFloat() < 0.5) {
      groupA = [leader];
    } else {
      groupA = ids.slice(0, 1 + this.random.nextInt(ids.length - 1));
    }
    const groupB = ids.filter((id) => !groupA.includes(id));
    this.network.partition(groupA, groupB);
    this.trace.add(`t=${this.nowMs} PARTITION [${groupA.join(',')}] | [${groupB.join(',')}]`);
  }

  /** Cuts one direction only: a random link, or everything the leader would hear. */
  private oneWayFault(): void {
    const ids = this.activeIds();
    const leader = this.currentLeader();
    if (leader !== null && this.random.nextFloat() < 0.3) {
      for (const id of ids) if (id !== leader) this.network.cut(id, leader);
      this.trace.add(`t=${this.nowMs} CUT all → leader ${leader} (one-way)`);
      return;
    }
    const from = ids[this.random.nextInt(ids.length)];
    const to = ids[this.random.nextInt(ids.length)];
    if (from === undefined || to === undefined || from === to) return;
    this.network.cut(from, to);
    this.trace.add(`t=${this.nowMs} CUT ${from} → ${to} (one-way)`);
  }

  private crashFault(): void {
    const leader = this.currentLeader();
    const live = [...this.liveNodes.keys()];
    const victim = leader !== null && this.random.nextFloat() < 0.4 ? leader : live[this.random.nextInt(live.length)];
    if (victim !== undefined) this.crash(this.node(victim), 'fault event');
  }

  /**
   * Cycles membership one server at a time: remove a voter (perhaps the leader), add it
   * back as a learner, then promote it. Removed nodes keep running and must not disrupt.
   */
  private membershipFault(): void {
    const leaderId = this.currentLeader();
    const leader = leaderId === null ? undefined : this.nodes.get(leaderId);
    if (leader === undefined || leader.raft === null) return;
    const { voters, learners } = leader.raft.status().confState;
    const outsiders = this.activeIds().filter((id) => !voters.includes(id) && !learners.includes(id));
    let change: ConfigChange | null = null;
    const learner = learners[0];
    const outsider = outsiders[0];
    if (learner !== undefined) {
      // A server that rejoined with an empty disk becomes a voter only once it has caught
      // up, so that it does not weaken the quorum while it replays the log.
      if (this.rejoiningIds.has(learner) && !this.caughtUp(learner, leader)) return;
      change = { type: ConfigChangeType.AddVoter, nodeId: learner };
    } else if (outsider !== undefined) {
      change = { type: ConfigChangeType.AddLearner, nodeId: outsider };
    } else if (voters.length > 2) {
      const victim = voters[this.random.nextInt(voters.length)];
      if (victim !== undefined) change = { type: ConfigChangeType.RemoveNode, nodeId: victim };
    }
    if (change === null) return;
    this.proposeMembershipChange(leader, change);
  }

  private proposeMembershipChange(leader: SimNode, change: ConfigChange): void {
    if (leader.raft === null) return;
    const result = leader.raft.proposeConfigChange(change);
    const described = `${change.type} ${change.nodeId}`;
    this.trace.add(`t=${this.nowMs} MEMBERSHIP leader ${leader.id} proposes ${described}: ${result.accepted ? `index ${result.index}` : result.reason}`);
    if (!result.accepted) return;
    this.stats.membershipChangesProposed++;
    if (change.type === ConfigChangeType.AddVoter) this.rejoiningIds.delete(change.nodeId);
    this.drive(leader);
  }

  /** Whether `id` holds everything the leader has committed (the simulator sees all logs). */
  private caughtUp(id: NodeId, leader: SimNode): boolean {
    const member = this.liveNodes.get(id);
    if (member === undefined || leader.raft === null) return false;
    return member.raft.status().lastIndex >= leader.raft.status().commitIndex;
  }

  /**
   * Whether `id`, absent from the leader's applied membership, can never come back under its
   * old id: no config change is pending in the leader's log (one that adds it back could
   * still commit). The core's own rule tells: a leader refuses a change with
   * config-change-pending until every change it appended — and its election no-op, hence
   * every earlier entry — is applied; asked to remove a non-member with nothing pending, it
   * answers invalid-config-change and appends nothing. An uncommitted change elsewhere, of
   * an older term, can no longer commit once this leader's no-op has.
   */
  private removedForGood(leader: SimNode, id: NodeId): boolean {
    const result = leader.raft?.proposeConfigChange({ type: ConfigChangeType.RemoveNode, nodeId: id });
    if (result === undefined) return false;
    assert(!result.accepted, `removing non-member ${id} was accepted`);
    return result.reason === RejectReason.InvalidConfigChange;
  }

  /**
   * A server already removed from the configuration loses its disk (replaced, or wiped by an
   * operator) and rejoins as a new member. Raft's promises (a vote, an acknowledged entry)
   * live on that disk, so the server must not come back under its old id: a wiped voter
   * could vote twice in a term it had voted in. It gets a fresh id, starts from an empty
   * log, is added as a learner, and is promoted to voter once caught up (membershipFault).
   */
  private wipeFault(): void {
    const leaderId = this.currentLeader();
    const leader = leaderId === null ? undefined : this.nodes.get(leaderId);
    if (leader === undefined || leader.raft === null) return;
    const { voters, learners } = leader.raft.status().confState;
    const removed = this.activeIds().filter((id) => !voters.includes(id) && !learners.includes(id) && !this.rejoiningIds.has(id));
    const victimId = removed[this.random.nextInt(removed.length)];
    if (victimId !== undefined && !this.removedForGood(leader, victimId)) return;
    if (victimId === undefined) {
      // The scenario's first step: take a voter out of the configuration.
      const candidates = voters.filter((id) => !this.rejoiningIds.has(id));
      const voter = candidates[this.random.nextInt(candidates.length)];
      if (voters.length > 2 && voter !== undefined) this.proposeMembershipChange(leader, { type: ConfigChangeType.RemoveNode, nodeId: voter });
      return;
    }
    const victim = this.node(victimId);
    this.crash(victim, 'disk wipe');
    victim.retired = true;
    this.clientLeaderHint = this.clientLeaderHint === victimId ? null : this.clientLeaderHint;
    const freshId = asNodeId(this.nextNodeId++);
    this.stats.disksWiped++;
    this.trace.add(`t=${this.nowMs} WIPE node ${victimId}: its disk is gone; the server rejoins as node ${freshId}`);
    this.createNode(freshId);
    this.rejoiningIds.add(freshId);
    this.rejoinedNotPromoted.add(freshId);
    this.proposeMembershipChange(leader, { type: ConfigChangeType.AddLearner, nodeId: freshId });
  }

  /** Asks the leader to hand over to a random other voter (leadership transfer, TimeoutNow). */
  private transferFault(): void {
    const leaderId = this.currentLeader();
    const leader = leaderId === null ? undefined : this.nodes.get(leaderId);
    if (leader === undefined || leader.raft === null) return;
    const candidates = leader.raft.status().confState.voters.filter((id) => id !== leader.id);
    const transferee = candidates[this.random.nextInt(candidates.length)];
    if (transferee === undefined) return;
    const result = leader.raft.transferLeadership(transferee);
    this.trace.add(`t=${this.nowMs} TRANSFER leader ${leader.id} → ${transferee}: ${result.accepted ? 'started' : result.reason}`);
    if (!result.accepted) return;
    this.stats.transfersStarted++;
    this.drive(leader);
  }

  /**
   * Swizzle-clogging: clog every link of a random subset of nodes, each with its own extra
   * delay, and unclog them one by one in random order. Late messages from old terms are what
   * this shakes loose.
   */
  private swizzleFault(): void {
    const ids = shuffle(this.activeIds(), this.random);
    const subset = ids.slice(0, 1 + this.random.nextInt(ids.length));
    const links: [NodeId, NodeId][] = [];
    for (const node of subset) {
      for (const other of ids) if (other !== node) links.push([node, other], [other, node]);
    }
    for (const [from, to] of links) {
      this.network.clog(from, to, 50 + this.random.nextInt(400));
      this.queue.push(this.nowMs + 20 + this.random.nextInt(500), { kind: 'unclog', from, to });
    }
    this.trace.add(`t=${this.nowMs} SWIZZLE clog links of [${subset.join(',')}]`);
  }

  private healFault(): void {
    if (this.network.cutCount === 0) return;
    this.network.healAll();
    this.trace.add(`t=${this.nowMs} HEAL network`);
  }

  /** End of the fault phase: reconnect everything, stop losing messages, restart the dead. */
  private heal(): void {
    this.phase = 'liveness';
    this.network.healAll();
    const mixNetwork = this.options.faultMix.network;
    this.network.options = { lossProbability: 0, duplicateProbability: 0, delayMinMs: mixNetwork.delayMinMs, delayMaxMs: Math.min(mixNetwork.delayMaxMs, 10) };
    for (const node of this.nodes.values()) if (node.raft === null && !node.retired) this.start(node);
    this.trace.add(`t=${this.nowMs} LIVENESS MODE: network healed, all nodes up`);
  }

  /**
   * Liveness: one leader that every member (voter or learner in the leader's membership)
   * follows, a proposal acknowledged since healing, and every acknowledged proposal applied
   * by every member. Nodes removed from the cluster are not required to catch up.
   */
  private converged(): boolean {
    if (this.livenessAcknowledged === 0) return false;
    const leaderId = this.currentLeader();
    const leader = leaderId === null ? undefined : this.liveNodes.get(leaderId);
    if (leader === undefined) return false;
    const { voters, learners } = leader.raft.status().confState;
    for (const id of [...voters, ...learners]) {
      const member = this.liveNodes.get(id);
      if (member === undefined) return false;
      const status = member.raft.status();
      if (status.leaderId !== leaderId || status.appliedIndex < this.highestAcknowledgedIndex) return false;
    }
    return true;
  }

  private convergenceReport(): string {
    const parts = [...this.nodes.values()].map((node) => {
      if (node.raft === null) return `${node.id}:down`;
      const s = node.raft.status();
      return `${node.id}:${s.role}@t${s.term} leader=${s.leaderId} commit=${s.commitIndex} applied=${s.appliedIndex} last=${s.lastIndex}`;
    });
    return `acked index ${this.highestAcknowledgedIndex}, liveness acks ${this.livenessAcknowledged}; ${parts.join('; ')}`;
  }

  private leaderTerms = new Set<string>();

  private noteLeaders(): void {
    for (const [id, node] of this.liveNodes) {
      const status = node.raft.status();
      if (status.role !== Role.Leader) continue;
      const key = `${id}@${status.term}`;
      if (this.leaderTerms.has(key)) continue;
      this.leaderTerms.add(key);
      this.stats.leadersElected++;
      this.trace.add(`t=${this.nowMs} LEADER node ${id} term ${status.term}`);
      if (this.phase === 'fault' && this.random.nextFloat() < this.options.faultMix.newLeaderFaultProbability) {
        const delayMs = this.random.nextInt(3 * this.tickIntervalMs);
        this.queue.push(this.nowMs + delayMs, { kind: 'new-leader-fault', nodeId: id, incarnation: node.incarnation });
      }
    }
  }

  private result(failure: string | null): SimulationResult {
    const stats = { ...this.stats };
    if (failure === null) return { ok: true, seed: this.options.seed, description: this.description, stats };
    return {
      ok: false,
      seed: this.options.seed,
      description: this.description,
      stats,
      failure: `${failure}\n  ${this.description}\n  replay: SIM_SEED=${this.options.seed} npx vitest run --project unit packages/sim  (or: npx tsx scripts/run-sim.ts --seed ${this.options.seed})`,
      trace: this.trace.lines(),
    };
  }
}

function allIds(count: number): NodeId[] {
  return Array.from({ length: count }, (_, i) => asNodeId(i + 1));
}

function shuffle<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    const a = items[i];
    const b = items[j];
    assert(a !== undefined && b !== undefined, 'index in range');
    items[i] = b;
    items[j] = a;
  }
  return items;
}

function describeEvent(event: SimEvent): string {
  switch (event.kind) {
    case 'tick':
      return `tick node ${event.nodeId}`;
    case 'deliver':
      return `deliver ${describeMessage(event.message)}`;
    case 'propose':
      return 'client propose';
    case 'read':
      return 'client read';
    case 'fault':
      return 'fault event';
    case 'restart':
      return `restart node ${event.nodeId}`;
    case 'write-done':
      return `disk write done node ${event.nodeId}`;
    case 'new-leader-fault':
      return `new-leader fault for node ${event.nodeId}`;
    case 'unclog':
      return `unclog ${event.from} → ${event.to}`;
  }
}
