import { assert } from '@rivulet/common';
import { EMPTY_IMAGE, applyRecords, decodeRecordList, encodeRecordList, imageFromRecords, imageToRecords } from '@rivulet/metadata';
import type { MetadataImage, MetadataRecord } from '@rivulet/metadata';
import type { SnapshotMetadata } from '@rivulet/raft';
import type { AppliedEntry, SnapshotHooks } from './raft-driver.js';

/** One committed metadata-log entry as watchers receive it: the record list at its offset. */
export interface MetadataLogEntry {
  readonly offset: number;
  /** The encoded record list, exactly as committed in the Raft log. */
  readonly records: Uint8Array;
}

/** What a watcher gets next: a snapshot that replaces its image, or entries that extend it. */
export type MetadataDelta = { readonly snapshot: true; readonly entry: MetadataLogEntry } | { readonly snapshot: false; readonly entries: readonly MetadataLogEntry[] };

export interface MetadataLogOptions {
  /** Recent entries kept for watchers that are a little behind. Default 4096. */
  readonly recentEntriesMax?: number;
  /** Bytes of recent entries kept. Default 64 MiB. */
  readonly recentBytesMax?: number;
  /** Take a Raft snapshot every this many entries. Default 2000. */
  readonly snapshotEveryEntries?: number;
}

/**
 * The metadata state machine of every controller-quorum member: committed Raft entries (each a
 * record list) are applied to the MetadataImage in log order; the metadata offset is the Raft
 * index. It keeps a bounded window of recent entries so brokers can follow the log from an
 * offset, and hands a snapshot of the image to a watcher that is further behind. Snapshots
 * of the image go through the Raft driver's hooks, so a restarted member rebuilds its image
 * from snapshot + log.
 */
export class MetadataLog {
  private current: MetadataImage = EMPTY_IMAGE;
  private readonly recent: MetadataLogEntry[] = [];
  private recentBytes = 0;
  /** `recent` holds every entry after this offset: a watcher behind it needs a snapshot. */
  private coveredAfter = -1;
  private readonly listeners = new Set<() => void>();
  private readonly recentEntriesMax: number;
  private readonly recentBytesMax: number;
  readonly hooks: SnapshotHooks;

  constructor(options: MetadataLogOptions = {}) {
    this.recentEntriesMax = options.recentEntriesMax ?? 4096;
    this.recentBytesMax = options.recentBytesMax ?? 64 * 1024 * 1024;
    this.hooks = {
      everyEntries: options.snapshotEveryEntries ?? 2000,
      tailEntries: 256,
      take: () => encodeRecordList(imageToRecords(this.current)),
      install: (data: Uint8Array, metadata: SnapshotMetadata) => this.install(data, metadata.index),
    };
  }

  get image(): MetadataImage {
    return this.current;
  }

  /** The offset of the last applied entry (-1 before the first). */
  get offset(): number {
    return this.current.offset;
  }

  /**
   * Applies one committed entry. Records were validated by the active controller before they
   * were proposed, so a record that does not decode or apply is a bug: it throws (the driver
   * asserts) rather than letting this member drift from the others.
   */
  apply(entry: AppliedEntry): void {
    const records: MetadataRecord[] = decodeRecordList(entry.data);
    this.current = applyRecords(this.current, records, entry.index);
    if (this.current.offset !== entry.index) this.current = { ...this.current, offset: entry.index };
    this.remember({ offset: entry.index, records: entry.data });
    this.notify();
  }

  private install(data: Uint8Array, offset: number): void {
    this.current = imageFromRecords(decodeRecordList(data), offset);
    if (this.current.offset !== offset) this.current = { ...this.current, offset };
    this.recent.length = 0;
    this.recentBytes = 0;
    this.coveredAfter = offset;
    this.notify();
  }

  private remember(entry: MetadataLogEntry): void {
    this.recent.push(entry);
    this.recentBytes += entry.records.byteLength;
    while (this.recent.length > this.recentEntriesMax || (this.recentBytes > this.recentBytesMax && this.recent.length > 1)) {
      const dropped = this.recent.shift()!;
      this.recentBytes -= dropped.records.byteLength;
      this.coveredAfter = dropped.offset;
    }
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Calls `listener` after every applied entry or installed snapshot. Returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * What a watcher that applied everything up to `afterOffset` needs next: null when it is
   * up to date (or ahead of this member), a snapshot when the entries after its offset are
   * no longer kept here, otherwise up to `maxEntries` entries.
   */
  deltaAfter(afterOffset: number, maxEntries: number): MetadataDelta | null {
    assert(maxEntries > 0, 'maxEntries must be positive');
    if (afterOffset >= this.current.offset) return null;
    if (afterOffset < this.coveredAfter) {
      return { snapshot: true, entry: { offset: this.current.offset, records: encodeRecordList(imageToRecords(this.current)) } };
    }
    // Entries are in offset order; offsets may skip (Raft config changes are not metadata).
    let start = 0;
    while (start < this.recent.length && this.recent[start]!.offset <= afterOffset) start++;
    return { snapshot: false, entries: this.recent.slice(start, start + maxEntries) };
  }
}
