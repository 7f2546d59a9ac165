import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RivuletError, StorageError, assert, asNodeId, asRaftIndex, asTerm, noopLogger } from '@rivulet/common';
import type { Logger, NodeId, RaftIndex, Term } from '@rivulet/common';
import { ClassicLevel } from 'classic-level';
import { writeChained } from './chained-write.js';
import type { BatchOp } from './write-pipeline.js';

/*
 * The durable Raft log, vote and snapshot of one controller, in its own LevelDB database
 * (a directory apart from the partition logs, so neither's compactions or fsyncs stall the
 * other).
 *
 * The types below mirror @rivulet/raft's Entry, HardState and Snapshot structurally:
 * storage must not depend on the Raft core (the design's arrows), yet this store is handed
 * to `RaftNode` as its `RaftStorage`; TypeScript checks the match where the controller does.
 *
 * Key layout (one-byte prefix, big-endian integers so byte order is index order):
 *
 *   'H'                -> term(u64) votedFor(u64, 0 = none) commitIndex(u64)   hard state
 *   'O'                -> index(u64) term(u64)   compaction point: the entry before the first held
 *   'S'                -> index(u64) term(u64) voterCount(u32) voters(u64…) learners(u64…)  snapshot metadata
 *   'D'                -> bytes                   snapshot data
 *   'V'                -> u32                     format version
 *   'L' index(u64)     -> term(u64) kind(u8) data entries
 *
 * `RaftStorage` reads are synchronous (the core is a synchronous state machine), so the
 * store keeps the entries after the compaction point in memory as well: reads are served
 * from memory, every write goes to LevelDB first and reaches memory only once written, so
 * reads reflect exactly what is durable (what the RaftStorage contract asks). Memory is
 * bounded by compaction: the driver snapshots every N entries and compacts behind it.
 */

export type RaftEntryKind = 'normal' | 'noop' | 'config-change';

export interface RaftLogEntry {
  readonly index: RaftIndex;
  readonly term: Term;
  readonly kind: RaftEntryKind;
  readonly data: Uint8Array;
}

export interface RaftHardState {
  readonly term: Term;
  readonly votedFor: NodeId | null;
  readonly commitIndex: RaftIndex;
}

export interface RaftConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface RaftSnapshotMetadata {
  readonly index: RaftIndex;
  readonly term: Term;
  readonly confState: RaftConfState;
}

export interface RaftSnapshot {
  readonly metadata: RaftSnapshotMetadata;
  readonly data: Uint8Array;
}

/** What one Ready asks to persist, written as one atomic LevelDB batch. */
export interface RaftPersistUpdate {
  /** A snapshot received from the leader: replaces the whole log. Written first. */
  readonly snapshot?: RaftSnapshot | null;
  /** Entries to append; every held entry at or after entries[0].index is dropped first. */
  readonly entries?: readonly RaftLogEntry[];
  readonly hardState?: RaftHardState | null;
}

export interface RaftLogStoreOptions {
  /** The directory of this database (not shared with anything else). */
  directory: string;
  logger?: Logger;
}

/** Directory name under a node's data directory for the Raft database. */
export const RAFT_LOG_STORE_DIRECTORY = 'raft-log';

const FORMAT_VERSION = 1;
const KEY_HARD_STATE = Buffer.from('H');
const KEY_OFFSET = Buffer.from('O');
const KEY_SNAPSHOT_METADATA = Buffer.from('S');
const KEY_SNAPSHOT_DATA = Buffer.from('D');
const KEY_VERSION = Buffer.from('V');
const ENTRY_PREFIX = 0x4c; // 'L'
const ENTRY_KEY_BYTES = 9;

const KIND_CODES: Record<RaftEntryKind, number> = { normal: 0, noop: 1, 'config-change': 2 };
const KINDS_BY_CODE: readonly RaftEntryKind[] = ['normal', 'noop', 'config-change'];

const ZERO_HARD_STATE: RaftHardState = { term: asTerm(0), votedFor: null, commitIndex: asRaftIndex(0) };
const EMPTY_SNAPSHOT: RaftSnapshot = {
  metadata: { index: asRaftIndex(0), term: asTerm(0), confState: { voters: [], learners: [] } },
  data: new Uint8Array(0),
};

type Db = ClassicLevel<Buffer, Buffer>;
const SYNC_WRITE = { sync: true } as const;
const OS_WRITE = { sync: false } as const;

export function raftEntryKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(ENTRY_KEY_BYTES);
  key[0] = ENTRY_PREFIX;
  key.writeBigUInt64BE(BigInt(index), 1);
  return key;
}

function decodeEntryKey(key: Buffer): number {
  assert(key.length === ENTRY_KEY_BYTES && key[0] === ENTRY_PREFIX, 'malformed raft entry key');
  return Number(key.readBigUInt64BE(1));
}

function encodeEntry(entry: RaftLogEntry): Buffer {
  const value = Buffer.allocUnsafe(9 + entry.data.byteLength);
  value.writeBigUInt64BE(BigInt(entry.term), 0);
  value[8] = KIND_CODES[entry.kind];
  value.set(entry.data, 9);
  return value;
}

function decodeEntry(index: number, value: Buffer): RaftLogEntry {
  const kind = KINDS_BY_CODE[value[8] ?? 255];
  if (kind === undefined) throw new StorageError(`raft entry ${index} has an unknown kind ${value[8]}`);
  // Copy: LevelDB may hand out views of a shared slab, and entries live on in memory.
  return { index: asRaftIndex(index), term: asTerm(Number(value.readBigUInt64BE(0))), kind, data: new Uint8Array(value.subarray(9)) };
}

function encodeHardState(hardState: RaftHardState): Buffer {
  const value = Buffer.allocUnsafe(24);
  value.writeBigUInt64BE(BigInt(hardState.term), 0);
  value.writeBigUInt64BE(BigInt(hardState.votedFor ?? 0), 8);
  value.writeBigUInt64BE(BigInt(hardState.commitIndex), 16);
  return value;
}

function decodeHardState(value: Buffer): RaftHardState {
  if (value.length !== 24) throw new StorageError(`raft hard state has ${value.length} bytes, expected 24`);
  const votedFor = Number(value.readBigUInt64BE(8));
  return { term: asTerm(Number(value.readBigUInt64BE(0))), votedFor: votedFor === 0 ? null : asNodeId(votedFor), commitIndex: asRaftIndex(Number(value.readBigUInt64BE(16))) };
}

function encodeIndexTerm(index: number, term: number): Buffer {
  const value = Buffer.allocUnsafe(16);
  value.writeBigUInt64BE(BigInt(index), 0);
  value.writeBigUInt64BE(BigInt(term), 8);
  return value;
}

function encodeSnapshotMetadata(metadata: RaftSnapshotMetadata): Buffer {
  const { voters, learners } = metadata.confState;
  const value = Buffer.allocUnsafe(20 + 8 * (voters.length + learners.length));
  value.writeBigUInt64BE(BigInt(metadata.index), 0);
  value.writeBigUInt64BE(BigInt(metadata.term), 8);
  value.writeUInt32BE(voters.length, 16);
  let offset = 20;
  for (const id of [...voters, ...learners]) {
    value.writeBigUInt64BE(BigInt(id), offset);
    offset += 8;
  }
  return value;
}

function decodeSnapshotMetadata(value: Buffer): RaftSnapshotMetadata {
  if (value.length < 20 || (value.length - 20) % 8 !== 0) throw new StorageError('malformed raft snapshot metadata');
  const voterCount = value.readUInt32BE(16);
  const ids: NodeId[] = [];
  for (let offset = 20; offset < value.length; offset += 8) ids.push(asNodeId(Number(value.readBigUInt64BE(offset))));
  if (voterCount > ids.length) throw new StorageError('malformed raft snapshot metadata: voter count');
  return {
    index: asRaftIndex(Number(value.readBigUInt64BE(0))),
    term: asTerm(Number(value.readBigUInt64BE(8))),
    confState: { voters: ids.slice(0, voterCount), learners: ids.slice(voterCount) },
  };
}

/**
 * The Raft log store on LevelDB. Read methods implement the core's `RaftStorage`; write
 * methods are the driver's. Writes must not overlap (the driver finishes one Ready before
 * the next): each is asserted to run alone, because memory is updated after the write.
 */
export class RaftLogStore {
  private hardState: RaftHardState = ZERO_HARD_STATE;
  private latestSnapshot: RaftSnapshot = EMPTY_SNAPSHOT;
  /** The entry just before the first held one (the compaction point). */
  private offsetIndex = 0;
  private offsetTerm = 0;
  private log: RaftLogEntry[] = [];
  private writing = false;
  private closed = false;

  private constructor(
    private readonly db: Db,
    private readonly logger: Logger,
  ) {}

  static async open(options: RaftLogStoreOptions): Promise<RaftLogStore> {
    const logger = (options.logger ?? noopLogger).child({ component: 'raft-log-store' });
    let db: Db;
    try {
      await mkdir(options.directory, { recursive: true });
      db = new ClassicLevel<Buffer, Buffer>(options.directory, { keyEncoding: 'buffer', valueEncoding: 'buffer', compression: false });
      await db.open();
    } catch (error) {
      throw new StorageError(`cannot open the raft log store at ${options.directory}`, {}, { cause: error });
    }
    const store = new RaftLogStore(db, logger);
    try {
      await store.load();
    } catch (error) {
      await db.close();
      throw error instanceof RivuletError ? error : new StorageError(`cannot load the raft log store at ${options.directory}`, {}, { cause: error });
    }
    return store;
  }

  private async load(): Promise<void> {
    const version = await this.db.get(KEY_VERSION);
    if (version === undefined) {
      const value = Buffer.allocUnsafe(4);
      value.writeUInt32BE(FORMAT_VERSION);
      await this.db.put(KEY_VERSION, value, { sync: true });
    } else if (version.readUInt32BE(0) !== FORMAT_VERSION) {
      throw new StorageError(`raft log store format version ${version.readUInt32BE(0)} is not supported (expected ${FORMAT_VERSION})`);
    }
    const hardState = await this.db.get(KEY_HARD_STATE);
    if (hardState !== undefined) this.hardState = decodeHardState(hardState);
    const metadata = await this.db.get(KEY_SNAPSHOT_METADATA);
    if (metadata !== undefined) {
      const data = (await this.db.get(KEY_SNAPSHOT_DATA)) ?? Buffer.alloc(0);
      this.latestSnapshot = { metadata: decodeSnapshotMetadata(metadata), data: new Uint8Array(data) };
    }
    const offset = await this.db.get(KEY_OFFSET);
    if (offset !== undefined) {
      this.offsetIndex = Number(offset.readBigUInt64BE(0));
      this.offsetTerm = Number(offset.readBigUInt64BE(8));
    }
    const entries = this.db.iterator({ gt: raftEntryKey(this.offsetIndex), lt: Buffer.from([ENTRY_PREFIX + 1]) });
    try {
      for await (const [key, value] of entries) {
        const index = decodeEntryKey(key);
        if (index !== this.offsetIndex + this.log.length + 1) throw new StorageError(`raft log has a hole before index ${index}`);
        this.log.push(decodeEntry(index, value));
      }
    } finally {
      await entries.close();
    }
    this.logger.info(
      { firstIndex: this.firstIndex(), lastIndex: this.lastIndex(), term: this.hardState.term, commitIndex: this.hardState.commitIndex, snapshotIndex: this.latestSnapshot.metadata.index },
      'raft log store opened',
    );
  }

  // ---- RaftStorage (read side) ----

  initialState(): RaftHardState {
    return this.hardState;
  }

  entries(lo: RaftIndex, hi: RaftIndex): readonly RaftLogEntry[] {
    assert(lo > this.offsetIndex, `entries(${lo}) below first index ${this.offsetIndex + 1}`);
    assert(hi <= this.lastIndex() + 1 && lo <= hi, `entries [${lo}, ${hi}) beyond last index ${this.lastIndex()}`);
    return this.log.slice(lo - this.offsetIndex - 1, hi - this.offsetIndex - 1);
  }

  term(index: RaftIndex): Term {
    assert(index >= this.offsetIndex && index <= this.lastIndex(), `term(${index}) outside [${this.offsetIndex}, ${this.lastIndex()}]`);
    if (index === this.offsetIndex) return asTerm(this.offsetTerm);
    const entry = this.log[index - this.offsetIndex - 1];
    assert(entry !== undefined && entry.index === index, `raft log hole at ${index}`);
    return entry.term;
  }

  firstIndex(): RaftIndex {
    return asRaftIndex(this.offsetIndex + 1);
  }

  lastIndex(): RaftIndex {
    return asRaftIndex(this.offsetIndex + this.log.length);
  }

  snapshot(): RaftSnapshot {
    return this.latestSnapshot;
  }

  // ---- the driver's writes ----

  /**
   * Persists one Ready's snapshot, entries and hard state as one atomic LevelDB batch,
   * fsynced when `sync` (the Ready's mustSync: a vote, a term or an entry that an outgoing
   * message promises). Memory reflects the write only after it completed.
   */
  async persist(update: RaftPersistUpdate, sync: boolean): Promise<void> {
    const ops: BatchOp[] = [];
    const apply: (() => void)[] = [];
    // Plan against a scratch view of where the log ends, so entries after a snapshot in
    // the same update are checked against the snapshot's position.
    let plannedOffsetIndex = this.offsetIndex;
    let plannedLastIndex = this.lastIndex();
    const snapshot = update.snapshot ?? null;
    if (snapshot !== null) {
      assert(snapshot.metadata.index > this.latestSnapshot.metadata.index, 'applySnapshot must move forward');
      for (let index = this.offsetIndex + 1; index <= this.lastIndex(); index++) ops.push({ type: 'del', key: raftEntryKey(index) });
      ops.push(...this.snapshotOps(snapshot));
      ops.push({ type: 'put', key: KEY_OFFSET, value: encodeIndexTerm(snapshot.metadata.index, snapshot.metadata.term) });
      plannedOffsetIndex = snapshot.metadata.index;
      plannedLastIndex = snapshot.metadata.index;
      apply.push(() => {
        this.latestSnapshot = snapshot;
        this.offsetIndex = snapshot.metadata.index;
        this.offsetTerm = snapshot.metadata.term;
        this.log = [];
      });
    }
    const fresh = (update.entries ?? []).filter((entry) => entry.index > plannedOffsetIndex);
    const head = fresh[0];
    if (head !== undefined) {
      assert(head.index <= plannedLastIndex + 1, `append at ${head.index} leaves a hole after ${plannedLastIndex}`);
      assert(snapshot !== null || head.index > this.hardState.commitIndex || this.term(head.index) === head.term, 'append overwrites a committed entry');
      const last = fresh[fresh.length - 1]!;
      // Drop the overwritten suffix that the new entries do not cover themselves.
      for (let index = last.index + 1; index <= plannedLastIndex; index++) ops.push({ type: 'del', key: raftEntryKey(index) });
      fresh.forEach((entry, i) => {
        assert(entry.index === head.index + i, `append is not contiguous at ${entry.index}`);
        ops.push({ type: 'put', key: raftEntryKey(entry.index), value: encodeEntry(entry) });
      });
      apply.push(() => {
        this.log.length = head.index - this.offsetIndex - 1;
        this.log.push(...fresh);
      });
    }
    const hardState = update.hardState ?? null;
    if (hardState !== null) {
      assert(hardState.term >= this.hardState.term, `hard state term went back ${this.hardState.term} -> ${hardState.term}`);
      assert(hardState.commitIndex >= this.hardState.commitIndex, `hard state commit went back ${this.hardState.commitIndex} -> ${hardState.commitIndex}`);
      ops.push({ type: 'put', key: KEY_HARD_STATE, value: encodeHardState(hardState) });
      apply.push(() => {
        this.hardState = hardState;
      });
    }
    if (ops.length === 0) return;
    await this.write(ops, sync, 'persist');
    for (const step of apply) step();
  }

  /** Appends entries (overwrite-from-index semantics), synced. */
  append(entries: readonly RaftLogEntry[]): Promise<void> {
    return this.persist({ entries }, true);
  }

  setHardState(hardState: RaftHardState): Promise<void> {
    return this.persist({ hardState }, true);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: RaftSnapshot): Promise<void> {
    return this.persist({ snapshot }, true);
  }

  /**
   * Records a snapshot of the local state machine at `index` (applied by the driver) with
   * the membership as of that index. Does not compact.
   */
  async createSnapshot(index: RaftIndex, data: Uint8Array, confState: RaftConfState): Promise<RaftSnapshot> {
    assert(index > this.latestSnapshot.metadata.index, `snapshot at ${index} is not newer than ${this.latestSnapshot.metadata.index}`);
    assert(index <= this.lastIndex(), `snapshot at ${index} beyond last index ${this.lastIndex()}`);
    const snapshot: RaftSnapshot = { metadata: { index, term: this.term(index), confState }, data };
    await this.write(this.snapshotOps(snapshot), true, 'createSnapshot');
    this.latestSnapshot = snapshot;
    return snapshot;
  }

  /** Drops entries up to and including `index`, which the snapshot must cover. */
  async compact(index: RaftIndex): Promise<void> {
    if (index <= this.offsetIndex) return;
    assert(index <= this.latestSnapshot.metadata.index, `compact(${index}) beyond the snapshot ${this.latestSnapshot.metadata.index}`);
    const term = this.term(index);
    const ops: BatchOp[] = [{ type: 'put', key: KEY_OFFSET, value: encodeIndexTerm(index, term) }];
    for (let i = this.offsetIndex + 1; i <= index; i++) ops.push({ type: 'del', key: raftEntryKey(i) });
    // Not synced: losing a compaction in a crash only means the entries come back.
    await this.write(ops, false, 'compact');
    this.log = this.log.slice(index - this.offsetIndex);
    this.offsetIndex = index;
    this.offsetTerm = term;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }

  private snapshotOps(snapshot: RaftSnapshot): BatchOp[] {
    return [
      { type: 'put', key: KEY_SNAPSHOT_METADATA, value: encodeSnapshotMetadata(snapshot.metadata) },
      { type: 'put', key: KEY_SNAPSHOT_DATA, value: Buffer.from(snapshot.data.buffer, snapshot.data.byteOffset, snapshot.data.byteLength) },
    ];
  }

  private async write(ops: BatchOp[], sync: boolean, what: string): Promise<void> {
    if (this.closed) throw new StorageError('the raft log store is closed');
    assert(!this.writing, `raft log store: ${what} overlaps another write`);
    this.writing = true;
    try {
      await writeChained(this.db, ops, sync ? SYNC_WRITE : OS_WRITE);
    } catch (error) {
      throw new StorageError(`raft log store: ${what} failed`, {}, { cause: error });
    } finally {
      this.writing = false;
    }
  }
}

export function raftLogStoreDirectory(dataDir: string): string {
  return join(dataDir, RAFT_LOG_STORE_DIRECTORY);
}
