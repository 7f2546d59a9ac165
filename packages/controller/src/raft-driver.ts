import { RivuletError, assert, asRaftIndex, noopLogger } from '@rivulet/common';
import type { Cancellable, Clock, Logger, NodeId, Random, RaftIndex, Scheduler, Term } from '@rivulet/common';
import { EntryKind, RaftNode, RejectReason, decodeConfigChange } from '@rivulet/raft';
import type { ConfState, Entry, Message, RaftConfig, RaftStatus, RaftStorage, Ready, Snapshot, SnapshotMetadata } from '@rivulet/raft';
import { NotControllerError, RaftOutcomeUnknownError } from './errors.js';

/**
 * What the driver needs from durable storage: the core's read side plus atomic, awaitable
 * writes. `RaftLogStore` (@rivulet/storage) is the production implementation.
 */
export interface RaftDriverStore extends RaftStorage {
  /** Writes one Ready's snapshot, entries and hard state atomically; fsync when `sync`. */
  persist(update: { snapshot: Snapshot | null; entries: readonly Entry[]; hardState: Ready['hardState'] }, sync: boolean): Promise<void>;
  createSnapshot(index: RaftIndex, data: Uint8Array, confState: ConfState): Promise<Snapshot>;
  compact(index: RaftIndex): Promise<void>;
}

/** A committed normal entry, as the state machine sees it. */
export interface AppliedEntry {
  readonly index: RaftIndex;
  readonly term: Term;
  readonly data: Uint8Array;
}

/** The state machine's snapshot hooks. */
export interface SnapshotHooks {
  /** Snapshot every this many applied entries (0: never). */
  readonly everyEntries: number;
  /** Entries kept behind a snapshot for followers that are only a little behind. */
  readonly tailEntries: number;
  /** The state machine's state as of the last applied entry. */
  take(): Uint8Array;
  /** Replaces the state machine's state (on boot from the latest snapshot, or one from the leader). */
  install(data: Uint8Array, metadata: SnapshotMetadata): void;
}

export interface RaftDriverOptions {
  readonly id: NodeId;
  /** The bootstrap membership, used until a snapshot carries one. */
  readonly voters: readonly NodeId[];
  readonly store: RaftDriverStore;
  /** Hands a message to the transport; must not block or throw for a down peer (drop instead). */
  readonly send: (message: Message) => void;
  readonly scheduler: Scheduler;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger?: Logger;
  /** Real time per Raft tick. Default DEFAULT_TICK_INTERVAL_MS (30 ms). */
  readonly tickIntervalMs?: number;
  /**
   * Default DEFAULT_ELECTION_TIMEOUT_TICKS (10): a follower campaigns after a randomized
   * [10, 20) ticks — 300–600 ms at 30 ms ticks — without hearing from a leader, and a leader
   * with check-quorum steps down after 10 ticks without a quorum (the same window).
   */
  readonly electionTimeoutTicks?: number;
  /** Default DEFAULT_HEARTBEAT_INTERVAL_TICKS (1). */
  readonly heartbeatIntervalTicks?: number;
  /** Further core options (message sizes, in-flight limits, …). */
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'voters' | 'storage' | 'random' | 'logger' | 'appliedIndex' | 'electionTimeoutTicks' | 'heartbeatIntervalTicks'>>;
  readonly snapshot?: SnapshotHooks;
  /** A proposal not applied within this is rejected with RaftOutcomeUnknownError. Default 10 000 ms. */
  readonly proposalTimeoutMs?: number;
  /** A read not answered within this is rejected. Default 5000 ms. */
  readonly readTimeoutMs?: number;
  /** Outstanding reads on this member before new ones are refused. Default 1024. */
  readonly pendingReadsMax?: number;
  /** Called once when the driver stops on an unrecoverable error (a failed disk write). */
  readonly onFatal?: (error: unknown) => void;
}

export interface RaftDriverStatus extends RaftStatus {
  readonly snapshotIndex: RaftIndex;
  /** Snapshots received from a leader and installed into the state machine. */
  readonly snapshotsInstalled: number;
  /** Snapshots this member took of its own state machine. */
  readonly snapshotsTaken: number;
  readonly pendingProposals: number;
  readonly pendingReads: number;
}

interface PendingProposal {
  readonly term: Term;
  readonly resolve: (position: { index: RaftIndex; term: Term }) => void;
  readonly reject: (error: Error) => void;
  readonly timer: Cancellable;
}

interface PendingRead {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: Cancellable;
  /** Set once the leader confirmed an index; the read completes when it is applied. */
  index: RaftIndex | null;
}

/**
 * The controller quorum's timing defaults, chosen so that kill -9 of a leader is followed by
 * a new leader committing within 1 s (p99): 30 ms ticks, a heartbeat every tick and an
 * election timeout of 10 ticks, randomized by the core in [10, 20) ticks = [300, 600) ms.
 * Fail-over is the earlier survivor's draw minus the time since the last heartbeat, a
 * pre-vote and a vote round, and the commits of the new leader's no-op and a proposal; when
 * both survivors campaign at once (split vote) a second randomized round follows, so the
 * bound that matters is about two timeouts: ~600 + ~600 ms at worst. Measured (20 runs on a
 * loaded 2-core VM): 50 ms x 10 ticks p99 960 ms; 50 ms x 8 ticks 2 of 20 runs over 1 s (split
 * votes); 30 ms x 10 ticks max 539 ms. Check-quorum and the leader lease use the same 10-tick
 * window, so a leader that lost its quorum steps down no later than the earliest follower
 * may campaign; a heartbeat every tenth of the timeout tolerates lost heartbeats or a
 * stalled event loop for ~250 ms without a spurious election.
 */
export const DEFAULT_TICK_INTERVAL_MS = 30;
export const DEFAULT_ELECTION_TIMEOUT_TICKS = 10;
export const DEFAULT_HEARTBEAT_INTERVAL_TICKS = 1;

/**
 * Runs one `RaftNode` for real: ticks on the injected scheduler, steps received messages,
 * and drains every Ready in the contract's order — persist (fsync when the Ready says so)
 * → send → apply → advance — one Ready at a time. Messages that arrive while a Ready is
 * being persisted are stepped at once and go into the next Ready, so a busy node batches
 * naturally (group commit).
 */
export class RaftDriver {
  private readonly node: RaftNode;
  private readonly store: RaftDriverStore;
  private readonly logger: Logger;
  private readonly tickIntervalMs: number;
  private readonly applyListeners = new Set<(entry: AppliedEntry) => void>();
  private readonly pendingProposals = new Map<number, PendingProposal>();
  private readonly pendingReads = new Map<number, PendingRead>();
  private confState: ConfState;
  private appliedIndex: RaftIndex;
  private nextReadId = 1;
  private tickTimer: Cancellable | null = null;
  private lastTickAtMs = 0;
  private draining = false;
  private drained: Promise<void> = Promise.resolve();
  private started = false;
  private stopped = false;
  private snapshotsInstalled = 0;
  private snapshotsTaken = 0;

  constructor(private readonly options: RaftDriverOptions) {
    this.store = options.store;
    this.logger = (options.logger ?? noopLogger).child({ component: 'raft-driver', nodeId: options.id });
    this.tickIntervalMs = options.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS;
    assert(this.tickIntervalMs > 0, 'tickIntervalMs must be positive');
    const snapshot = this.store.snapshot();
    // The state machine restarts from the latest snapshot (it is not durable by itself); the
    // core hands back every committed entry after it.
    this.appliedIndex = snapshot.metadata.index;
    this.confState = snapshot.metadata.index > 0 ? snapshot.metadata.confState : { voters: options.voters, learners: [] };
    if (snapshot.metadata.index > 0) {
      assert(options.snapshot !== undefined, 'the store holds a snapshot but no snapshot hooks were given');
      options.snapshot.install(snapshot.data, snapshot.metadata);
    }
    this.node = new RaftNode({
      ...options.raft,
      id: options.id,
      voters: this.confState.voters,
      learners: this.confState.learners,
      storage: this.store,
      random: options.random,
      logger: this.logger,
      electionTimeoutTicks: options.electionTimeoutTicks ?? DEFAULT_ELECTION_TIMEOUT_TICKS,
      heartbeatIntervalTicks: options.heartbeatIntervalTicks ?? DEFAULT_HEARTBEAT_INTERVAL_TICKS,
      appliedIndex: this.appliedIndex,
    });
  }

  get id(): NodeId {
    return this.options.id;
  }

  /** Starts ticking. Messages may be received before (they are stepped). */
  start(): void {
    assert(!this.started, 'RaftDriver started twice');
    this.started = true;
    this.lastTickAtMs = this.options.clock.nowMs();
    this.scheduleTick();
    this.kick();
  }

  /** Stops ticking and processing, fails what is pending, and waits for the Ready in progress. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.tickTimer?.cancel();
    this.failPending(() => new RivuletError('BROKER_NOT_AVAILABLE', 'the raft member is stopping'));
    await this.drained;
  }

  /** Steps a message received from a peer. Messages not addressed to this member are dropped. */
  receive(message: Message): void {
    if (this.stopped) return;
    if (message.to !== this.options.id || message.from === this.options.id) {
      this.logger.warn({ from: message.from, to: message.to, type: message.type }, 'dropping a raft message not meant for this member');
      return;
    }
    this.node.step(message);
    this.kick();
  }

  /**
   * Proposes `data`. Resolves with its log position once committed and applied here;
   * rejects with NotControllerError (with the leader, when known) on a non-leader, or
   * RaftOutcomeUnknownError when the entry was lost with a leadership change or timed out.
   */
  propose(data: Uint8Array): Promise<{ index: RaftIndex; term: Term }> {
    try {
      return this.proposeAt(data).applied;
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /**
   * As `propose`, but tells synchronously where the entry went, so a caller that loses track
   * of the outcome (timeout) can later wait until that index is applied or the term moved
   * on. Throws at once when the proposal is refused.
   */
  proposeAt(data: Uint8Array): { index: RaftIndex; term: Term; applied: Promise<{ index: RaftIndex; term: Term }> } {
    if (this.stopped) throw new RivuletError('BROKER_NOT_AVAILABLE', 'the raft member is stopped');
    const result = this.node.propose(data);
    if (!result.accepted) {
      if (result.reason === RejectReason.TooManyUncommittedEntries) {
        throw new RivuletError('THROTTLING_QUOTA_EXCEEDED', 'too many uncommitted raft entries');
      }
      throw new NotControllerError(result.leaderId, result.reason);
    }
    const { index, term } = result;
    assert(!this.pendingProposals.has(index), `two pending proposals at index ${index}`);
    const applied = new Promise<{ index: RaftIndex; term: Term }>((resolve, reject) => {
      const timer = this.options.scheduler.schedule(this.options.proposalTimeoutMs ?? 10_000, () => {
        this.pendingProposals.delete(index);
        reject(new RaftOutcomeUnknownError(`proposal at index ${index} not applied in time`));
      });
      this.pendingProposals.set(index, { term, resolve, reject, timer });
    });
    this.kick();
    return { index, term, applied };
  }

  /** Campaigns now instead of after an election timeout (a sole voter starting up). */
  campaign(): void {
    if (this.stopped) return;
    this.node.campaign();
    this.kick();
  }

  /** The index of the last entry applied to the state machine. */
  get lastAppliedIndex(): RaftIndex {
    return this.appliedIndex;
  }

  /**
   * Resolves once this member's state machine reflects every write committed before the
   * call (ReadIndex, thesis §6.4; a follower asks the leader). Read the state machine then.
   */
  readLinearizable(): Promise<void> {
    if (this.stopped) return Promise.reject(new RivuletError('BROKER_NOT_AVAILABLE', 'the raft member is stopped'));
    if (this.pendingReads.size >= (this.options.pendingReadsMax ?? 1024)) {
      return Promise.reject(new RivuletError('THROTTLING_QUOTA_EXCEEDED', 'too many pending linearizable reads'));
    }
    const requestId = this.nextReadId++;
    const result = this.node.readIndex(requestId);
    if (!result.accepted) {
      const leaderId = this.node.status().leaderId;
      if (result.reason === RejectReason.NotLeader) return Promise.reject(new NotControllerError(leaderId, result.reason));
      return Promise.reject(new RivuletError('LEADER_NOT_AVAILABLE', `linearizable read refused: ${result.reason}`, leaderId === null ? {} : { leaderId }));
    }
    const promise = new Promise<void>((resolve, reject) => {
      const timer = this.options.scheduler.schedule(this.options.readTimeoutMs ?? 5000, () => {
        this.pendingReads.delete(requestId);
        reject(new RaftOutcomeUnknownError('linearizable read not confirmed in time'));
      });
      this.pendingReads.set(requestId, { resolve, reject, timer, index: null });
    });
    this.kick();
    return promise;
  }

  /** Calls `listener` for every committed normal entry, in log order. Returns an unsubscribe. */
  onApply(listener: (entry: AppliedEntry) => void): () => void {
    this.applyListeners.add(listener);
    return () => this.applyListeners.delete(listener);
  }

  /** Hands leadership to `transferee` (leader only). */
  transferLeadership(transferee: NodeId): void {
    const result = this.node.transferLeadership(transferee);
    if (!result.accepted) throw new NotControllerError(this.node.status().leaderId, result.reason);
    this.kick();
  }

  status(): RaftDriverStatus {
    return {
      ...this.node.status(),
      snapshotIndex: this.store.snapshot().metadata.index,
      snapshotsInstalled: this.snapshotsInstalled,
      snapshotsTaken: this.snapshotsTaken,
      pendingProposals: this.pendingProposals.size,
      pendingReads: this.pendingReads.size,
    };
  }

  private scheduleTick(): void {
    this.tickTimer = this.options.scheduler.schedule(this.tickIntervalMs, () => {
      if (this.stopped) return;
      const nowMs = this.options.clock.nowMs();
      // Ticks that fire late slow Raft's clock down, which is safe (elections come later);
      // a long stall is worth a warning since it can cost the leadership.
      if (nowMs - this.lastTickAtMs > 5 * this.tickIntervalMs) {
        this.logger.warn({ lateMs: Math.round(nowMs - this.lastTickAtMs - this.tickIntervalMs) }, 'raft tick ran late');
      }
      this.lastTickAtMs = nowMs;
      this.node.tick();
      this.kick();
      this.scheduleTick();
    });
  }

  /** Starts draining Readys unless a drain is already running (it picks up new work itself). */
  private kick(): void {
    if (this.draining || this.stopped || !this.started) return;
    if (!this.node.hasReady()) return;
    this.draining = true;
    this.drained = this.drain().then(
      () => undefined,
      (error: unknown) => this.fail(error),
    );
  }

  /**
   * Drains Readys until there are none. `draining` is cleared inside nextReady(), in the
   * same synchronous step as the final ready() === null, so a kick from any later callback
   * (even a microtask) starts a new drain instead of finding one about to end. On a failure
   * it stays set: fail() stops the driver for good.
   */
  private async drain(): Promise<void> {
    for (let ready = this.nextReady(); ready !== null; ready = this.nextReady()) {
      // 1. Persist. Nothing below may run before this finished: the messages promise it.
      await this.store.persist({ snapshot: ready.snapshot, entries: ready.entries, hardState: ready.hardState }, ready.mustSync);
      if (this.stopped) return;
      // 2. Send.
      for (const message of ready.messages) this.options.send(message);
      // 3. Apply.
      this.apply(ready);
      // 4. Advance.
      this.node.advance(ready);
      if (ready.softState !== null) this.logger.info({ role: ready.softState.role, leaderId: ready.softState.leaderId, term: this.node.status().term }, 'raft role changed');
      await this.maybeSnapshot();
      if (this.stopped) return;
    }
  }

  private nextReady(): Ready | null {
    const ready = this.stopped ? null : this.node.ready();
    if (ready === null) this.draining = false;
    return ready;
  }

  private apply(ready: Ready): void {
    if (ready.snapshot !== null) {
      const { metadata, data } = ready.snapshot;
      assert(this.options.snapshot !== undefined, 'received a snapshot but no snapshot hooks were given');
      this.options.snapshot.install(data, metadata);
      this.confState = metadata.confState;
      this.appliedIndex = metadata.index;
      this.snapshotsInstalled++;
      this.logger.info({ index: metadata.index, term: metadata.term, bytes: data.byteLength }, 'installed a raft snapshot from the leader');
      // Proposals the snapshot skipped may or may not be in it.
      for (const [index, pending] of this.pendingProposals) {
        if (index > metadata.index) continue;
        this.settleProposal(index, pending, new RaftOutcomeUnknownError(`proposal at index ${index} was covered by a snapshot`));
      }
    }
    for (const entry of ready.committedEntries) {
      assert(entry.index === this.appliedIndex + 1, `applying ${entry.index} after ${this.appliedIndex}`);
      this.appliedIndex = entry.index;
      if (entry.kind === EntryKind.Normal) {
        for (const listener of this.applyListeners) listener({ index: entry.index, term: entry.term, data: entry.data });
      } else if (entry.kind === EntryKind.ConfigChange) {
        this.confState = this.node.applyConfigChange(decodeConfigChange(entry.data));
      }
      const pending = this.pendingProposals.get(entry.index);
      if (pending !== undefined) {
        this.settleProposal(
          entry.index,
          pending,
          pending.term === entry.term ? null : new RaftOutcomeUnknownError(`proposal at index ${entry.index} was overwritten by a newer leader`),
        );
      }
    }
    for (const readState of ready.readStates) {
      const pending = this.pendingReads.get(readState.requestId);
      if (pending !== undefined) pending.index = readState.index;
    }
    for (const [requestId, pending] of this.pendingReads) {
      if (pending.index === null || pending.index > this.appliedIndex) continue;
      this.pendingReads.delete(requestId);
      pending.timer.cancel();
      pending.resolve();
    }
  }

  private settleProposal(index: number, pending: PendingProposal, error: Error | null): void {
    this.pendingProposals.delete(index);
    pending.timer.cancel();
    if (error === null) pending.resolve({ index: asRaftIndex(index), term: pending.term });
    else pending.reject(error);
  }

  /** Snapshots the state machine every `everyEntries` applied entries and compacts behind it. */
  private async maybeSnapshot(): Promise<void> {
    const hooks = this.options.snapshot;
    if (hooks === undefined || hooks.everyEntries <= 0) return;
    const snapshotIndex = this.store.snapshot().metadata.index;
    if (this.appliedIndex - snapshotIndex < hooks.everyEntries) return;
    // No await between applying and taking: the bytes describe exactly appliedIndex.
    const index = this.appliedIndex;
    const data = hooks.take();
    await this.store.createSnapshot(index, data, this.confState);
    await this.store.compact(asRaftIndex(Math.max(0, index - hooks.tailEntries)));
    this.snapshotsTaken++;
    this.logger.debug({ index, bytes: data.byteLength }, 'took a raft snapshot');
  }

  private fail(error: unknown): void {
    if (this.stopped) return;
    this.logger.error({ err: error }, 'raft driver failed; stopping this member');
    this.stopped = true;
    this.tickTimer?.cancel();
    this.failPending(() => new RivuletError('KAFKA_STORAGE_ERROR', 'the raft member failed'));
    this.options.onFatal?.(error);
  }

  private failPending(makeError: () => Error): void {
    for (const [index, pending] of this.pendingProposals) this.settleProposal(index, pending, makeError());
    for (const pending of this.pendingReads.values()) {
      pending.timer.cancel();
      pending.reject(makeError());
    }
    this.pendingReads.clear();
  }
}
