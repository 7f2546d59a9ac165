import { SeededRandom, asNodeId, asRaftIndex, systemClock, systemScheduler } from '@rivulet/common';
import type { NodeId } from '@rivulet/common';
import type { Message } from '@rivulet/raft';
import { afterEach, describe, expect, it } from 'vitest';
import { NotControllerError } from './errors.js';
import { KeyValueStateMachine } from './kv-state-machine.js';
import { RaftDriver } from './raft-driver.js';
import { AsyncMemoryStore } from './test-support.js';

// Three drivers in one process on the real clock (10 ms ticks), over an in-memory network
// that delivers in a later macrotask, with MemoryRaftLog behind an async store: the driver's
// loop, the propose / read / apply API and the snapshot hooks, without disks or sockets.

interface Member {
  driver: RaftDriver;
  store: AsyncMemoryStore;
  machine: KeyValueStateMachine;
  fatal: unknown[];
}

const ids = [1, 2, 3].map(asNodeId);
let members: Member[] = [];

function startCluster(snapshotEveryEntries = 0): Member[] {
  const byId = new Map<NodeId, Member>();
  const send = (message: Message): void => {
    setImmediate(() => byId.get(message.to)?.driver.receive(message));
  };
  members = ids.map((id) => {
    const store = new AsyncMemoryStore();
    const machine = new KeyValueStateMachine();
    const fatal: unknown[] = [];
    const driver = new RaftDriver({
      id,
      voters: ids,
      store,
      send,
      scheduler: systemScheduler,
      clock: systemClock,
      random: new SeededRandom(id),
      tickIntervalMs: 10,
      electionTimeoutTicks: 10,
      snapshot: {
        everyEntries: snapshotEveryEntries,
        tailEntries: 1,
        take: () => machine.takeSnapshot(),
        install: (data, metadata) => machine.installSnapshot(data, metadata.index),
      },
      onFatal: (error) => fatal.push(error),
    });
    driver.onApply((entry) => machine.apply(entry));
    const member = { driver, store, machine, fatal };
    byId.set(id, member);
    return member;
  });
  for (const member of members) member.driver.start();
  return members;
}

async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const leaderOf = (cluster: Member[]): Member | undefined => cluster.find((m) => m.driver.status().role === 'leader');
const command = (key: string, value: string): Uint8Array => KeyValueStateMachine.encodeCommand(key, value);

afterEach(async () => {
  for (const member of members) await member.driver.stop();
  members = [];
});

describe('RaftDriver', () => {
  it('elects a leader; a proposal resolves once committed and applied, and every member applies it', async () => {
    const cluster = startCluster();
    const leader = await waitFor('a leader', () => leaderOf(cluster));
    const position = await leader.driver.propose(command('a', '1'));
    expect(position.index).toBeGreaterThan(0);
    expect(leader.machine.get('a')).toBe('1');
    await waitFor('all members to apply', () => (cluster.every((m) => m.machine.get('a') === '1') ? true : undefined));
  });

  it('a follower refuses proposals with NotControllerError naming the leader', async () => {
    const cluster = startCluster();
    const leader = await waitFor('a leader', () => leaderOf(cluster));
    const follower = await waitFor('a follower that knows the leader', () => cluster.find((m) => m !== leader && m.driver.status().leaderId === leader.driver.id));
    const error = await follower.driver.propose(command('b', '1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotControllerError);
    expect((error as NotControllerError).leaderId).toBe(leader.driver.id);
    expect((error as NotControllerError).errorName).toBe('NOT_CONTROLLER');
  });

  it('a linearizable read on a follower sees every write acknowledged before it', async () => {
    const cluster = startCluster();
    const leader = await waitFor('a leader', () => leaderOf(cluster));
    const follower = await waitFor('a follower that knows the leader', () => cluster.find((m) => m !== leader && m.driver.status().leaderId === leader.driver.id));
    await Promise.all(Array.from({ length: 20 }, (_, i) => leader.driver.propose(command(`k${i}`, `v${i}`))));
    await follower.driver.readLinearizable();
    expect(follower.machine.size).toBe(20);
  });

  it('takes snapshots every N entries and compacts the log behind them', async () => {
    const cluster = startCluster(5);
    const leader = await waitFor('a leader', () => leaderOf(cluster));
    for (let i = 0; i < 12; i++) await leader.driver.propose(command(`k${i}`, `v${i}`));
    const status = leader.driver.status();
    expect(status.snapshotsTaken).toBeGreaterThanOrEqual(2);
    expect(status.snapshotIndex).toBeGreaterThanOrEqual(10);
    expect(status.firstIndex).toBe(asRaftIndex(status.snapshotIndex)); // tail of one entry kept
  });

  it('stops on a failed disk write: pending proposals fail and onFatal is called', async () => {
    const cluster = startCluster();
    const leader = await waitFor('a leader', () => leaderOf(cluster));
    leader.store.failWrites = true;
    await expect(leader.driver.propose(command('c', '1'))).rejects.toMatchObject({ errorName: 'KAFKA_STORAGE_ERROR' });
    expect(leader.fatal).toHaveLength(1);
  });
});
