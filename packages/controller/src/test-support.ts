/** Shared by this package's tests. */
import { StorageError } from '@rivulet/common';
import type { RaftIndex } from '@rivulet/common';
import { MemoryRaftLog } from '@rivulet/raft';
import type { ConfState, Entry, Ready, Snapshot } from '@rivulet/raft';
import type { RaftDriverStore } from './raft-driver.js';

/** MemoryRaftLog behind the driver's asynchronous write interface (a write takes a macrotask). */
export class AsyncMemoryStore implements RaftDriverStore {
  private readonly log = new MemoryRaftLog();
  failWrites = false;
  initialState = () => this.log.initialState();
  entries = (lo: RaftIndex, hi: RaftIndex) => this.log.entries(lo, hi);
  term = (index: RaftIndex) => this.log.term(index);
  firstIndex = () => this.log.firstIndex();
  lastIndex = () => this.log.lastIndex();
  snapshot = () => this.log.snapshot();

  async persist(update: { snapshot: Snapshot | null; entries: readonly Entry[]; hardState: Ready['hardState'] }): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failWrites) throw new StorageError('disk gone');
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

