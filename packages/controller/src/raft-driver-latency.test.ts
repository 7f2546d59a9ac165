import { SeededRandom, asNodeId } from '@rivulet/common';
import type { Cancellable, Clock, NodeId, RaftIndex, Scheduler } from '@rivulet/common';
import { MemoryRaftLog } from '@rivulet/raft';
import type { ConfState, Entry, Message, Ready, Snapshot } from '@rivulet/raft';
import { afterEach, describe, expect, it } from 'vitest';
import { KeyValueStateMachine } from './kv-state-machine.js';
import { RaftDriver } from './raft-driver.js';
import type { RaftDriverStore } from './raft-driver.js';

// Commit latency must not depend on the tick: with the clock frozen (a manual scheduler that
// never fires unless told to), a proposal on an established leader commits and applies
// within a bounded number of event-loop turns — the leader sends appends at once, followers
// answer as soon as they persisted, and the leader's driver drains the next Ready as soon as
// the answers are stepped.

/** Timers run only when the test fires them: no Raft tick happens behind the test's back. */
class ManualScheduler implements Scheduler {
  private nextId = 0;
  readonly tasks = new Map<number, { dueMs: number; task: () => void }>();
  nowMs = 0;
  schedule(delayMs: number, task: () => void): Cancellable {
    const id = this.nextId++;
    this.tasks.set(id, { dueMs: this.nowMs + delayMs, task });
    return { cancel: () => this.tasks.delete(id) };
  }
  /** Moves time forward by `ms`, running every task that comes due. */
  advance(ms: number): void {
    this.nowMs += ms;
    for (;;) {
      const due = [...this.tasks.entries()].filter(([, t]) => t.dueMs <= this.nowMs).sort((a, b) => a[1].dueMs - b[1].dueMs || a[0] - b[0])[0];
      if (due === undefined) return;
      this.tasks.delete(due[0]);
      due[1].task();
    }
  }
}

/** MemoryRaftLog behind an asynchronous write (one macrotask per persist, like a disk). */
class AsyncMemoryStore implements RaftDriverStore {
  private readonly log = new MemoryRaftLog();
  initialState = () => this.log.initialState();
  entries = (lo: RaftIndex, hi: RaftIndex) => this.log.entries(lo, hi);
  term = (index: RaftIndex) => this.log.term(index);
  firstIndex = () => this.log.firstIndex();
  lastIndex = () => this.log.lastIndex();
  snapshot = () => this.log.snapshot();
  async persist(update: { snapshot: Snapshot | null; entries: readonly Entry[]; hardState: Ready['hardState'] }): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    if (update.snapshot !== null) this.log.applySnapshot(update.snapshot);
    this.log.append(update.entries);
    if (update.hardState !== null) this.log.setHardState(update.hardState);
  }
  createSnapshot(index: RaftIndex, data: Uint8Array, confState: ConfState): Promise<Snapshot> {
    return Promise.resolve(this.log.createSnapshot(index, data, confState));
  }
  compact(index: RaftIndex): Promise<void> {
    this.log.compact(index);
    return Promise.resolve();
  }
}

const ids = [1, 2, 3].map(asNodeId);
let drivers: RaftDriver[] = [];

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('RaftDriver commit latency', () => {
  afterEach(async () => {
    for (const driver of drivers) await driver.stop();
    drivers = [];
  });

  it('commits a proposal without any tick firing, within a bounded number of event-loop turns', async () => {
    const scheduler = new ManualScheduler();
    const clock: Clock = { nowMs: () => scheduler.nowMs, wallClockMs: () => scheduler.nowMs };
    const byId = new Map<NodeId, RaftDriver>();
    const send = (message: Message): void => {
      setImmediate(() => byId.get(message.to)?.receive(message));
    };
    const machines = new Map<NodeId, KeyValueStateMachine>();
    drivers = ids.map((id) => {
      const machine = new KeyValueStateMachine();
      machines.set(id, machine);
      const driver = new RaftDriver({ id, voters: ids, store: new AsyncMemoryStore(), send, scheduler, clock, random: new SeededRandom(id), tickIntervalMs: 10, electionTimeoutTicks: 10 });
      driver.onApply((entry) => machine.apply(entry));
      byId.set(id, driver);
      return driver;
    });
    for (const driver of drivers) driver.start();
    // Elect a leader: fire ticks one at a time, letting messages and disk writes settle between.
    let leader: RaftDriver | undefined;
    for (let tick = 0; tick < 100 && leader === undefined; tick++) {
      scheduler.advance(10);
      for (let i = 0; i < 50; i++) await turn();
      leader = drivers.find((d) => d.status().role === 'leader' && d.status().commitIndex > 0);
    }
    expect(leader).toBeDefined();
    for (let i = 0; i < 50; i++) await turn();

    // From here on no timer fires: no tick, no heartbeat.
    let resolved = 0;
    const proposals = Array.from({ length: 32 }, (_, i) => leader!.propose(KeyValueStateMachine.encodeCommand(`k${i}`, `v${i}`)).then(() => resolved++));
    let turns = 0;
    while (resolved < proposals.length && turns < 200) {
      await turn();
      turns++;
    }
    expect(resolved).toBe(32);
    expect(turns).toBeLessThan(50);
    await Promise.all(proposals);
    // The followers learn the commit index without a heartbeat too.
    for (let i = 0; i < 50; i++) await turn();
    for (const id of ids) expect(machines.get(id)!.get('k31')).toBe('v31');
  });
});
