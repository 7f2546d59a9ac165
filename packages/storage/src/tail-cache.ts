import { assert } from '@rivulet/common';

/** One committed batch held in memory. */
interface TailEntry {
  readonly baseOffset: number;
  readonly lastOffset: number;
  batch: Buffer;
  /** Counted against the budget until the batch is evicted or dropped (then 0). */
  bytes: number;
}

/** The batches a read found in the tail: whole batches, as LevelDB would have returned them. */
export interface TailRead {
  readonly batches: Buffer[];
  readonly totalBytes: number;
  readonly nextOffset: number;
}

export interface TailCacheStats {
  /** Reads answered from memory. */
  tailCacheHits: number;
  /** Reads that started below the tail and went to LevelDB. */
  tailCacheMisses: number;
  tailCacheBytes: number;
}

/**
 * The memory shared by every partition's tail cache of one log store, evicted oldest batch
 * first across all partitions: whatever partitions are busy keep their recent batches, and
 * an idle partition's tail ages out.
 */
export class TailCacheBudget {
  private readonly queue: { cache: TailCache; entry: TailEntry }[] = [];
  private queueHead = 0;
  private usedBytes = 0;
  private readonly counters = { hits: 0, misses: 0 };

  constructor(readonly bytesMax: number) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax >= 0, 'tail cache budget must be a non-negative integer');
  }

  get bytesUsed(): number {
    return this.usedBytes;
  }

  get stats(): TailCacheStats {
    return { tailCacheHits: this.counters.hits, tailCacheMisses: this.counters.misses, tailCacheBytes: this.usedBytes };
  }

  /** Counts a read as answered from memory or not. */
  countRead(isHit: boolean): void {
    if (isHit) this.counters.hits++;
    else this.counters.misses++;
  }

  /** Takes `entry` of `cache` into the budget, evicting the oldest batches (of any partition) beyond it. */
  admit(cache: TailCache, entry: TailEntry): void {
    assert(entry.bytes <= this.bytesMax, 'a tail cache entry larger than the whole budget');
    this.queue.push({ cache, entry });
    this.usedBytes += entry.bytes;
    while (this.usedBytes > this.bytesMax) {
      const oldest = this.queue[this.queueHead++];
      assert(oldest !== undefined, 'tail cache budget overdrawn with nothing to evict');
      if (oldest.entry.bytes > 0) oldest.cache.evictOldest(oldest.entry);
    }
    // Drop the consumed prefix now and then, so the queue holds only live entries (amortised O(1)).
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  /** Gives back an entry's bytes (evicted or dropped); it stays queued, weightless, until its turn. */
  release(entry: TailEntry): void {
    this.usedBytes -= entry.bytes;
    entry.bytes = 0;
    entry.batch = EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * The most recently committed batches of one partition replica, in offset order and ending
 * at the log end: reads that start inside it (in-sync followers, consumers keeping up) are
 * answered from memory instead of a LevelDB iterator, which costs several thread-pool round
 * trips. It holds only committed batches, so it answers exactly what LevelDB would; any
 * truncation drops it whole.
 */
export class TailCache {
  private entries: TailEntry[] = [];
  private head = 0;

  constructor(private readonly budget: TailCacheBudget) {}

  /** Batches held. */
  get size(): number {
    return this.entries.length - this.head;
  }

  /** Adds a batch just committed at the log end (contiguous with the last one held, if any). */
  add(baseOffset: number, lastOffset: number, batch: Buffer): void {
    const last = this.entries[this.entries.length - 1];
    if (this.size > 0 && last !== undefined && last.lastOffset + 1 !== baseOffset) this.clear();
    if (batch.length > this.budget.bytesMax) {
      // It can never fit; the tail must stay contiguous up to the log end, so it starts over.
      this.clear();
      return;
    }
    const entry: TailEntry = { baseOffset, lastOffset, batch, bytes: batch.length };
    this.entries.push(entry);
    this.budget.admit(this, entry);
  }

  /** Called by the budget: `entry` must be this cache's oldest batch. */
  evictOldest(entry: TailEntry): void {
    assert(this.entries[this.head] === entry, 'tail cache evicts out of order');
    this.budget.release(entry);
    this.head++;
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Drops the oldest batches up to the one holding `offset` (compaction rewrote or removed
   * batches up to there). What stays still runs contiguously to the log end.
   */
  dropThrough(offset: number): void {
    while (this.head < this.entries.length && this.entries[this.head]!.baseOffset <= offset) {
      this.budget.release(this.entries[this.head]!);
      this.head++;
    }
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    }
  }

  /** Drops every batch (truncation, deletion, a batch that did not fit). */
  clear(): void {
    for (let i = this.head; i < this.entries.length; i++) this.budget.release(this.entries[i]!);
    this.entries = [];
    this.head = 0;
  }

  /**
   * The batches from the one holding `fromOffset`, all ending before `upperExclusive`, within
   * `maxBytes` (one batch at least); undefined when the tail does not reach back to `fromOffset`.
   */
  read(fromOffset: number, upperExclusive: number, maxBytes: number): TailRead | undefined {
    const first = this.entries[this.head];
    const isHit = first !== undefined && fromOffset >= first.baseOffset;
    this.budget.countRead(isHit);
    if (!isHit) return undefined;
    // The first batch whose last offset is >= fromOffset.
    let low = this.head;
    let high = this.entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.entries[mid]!.lastOffset < fromOffset) low = mid + 1;
      else high = mid;
    }
    const batches: Buffer[] = [];
    let totalBytes = 0;
    let nextOffset = fromOffset;
    for (let i = low; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (entry.lastOffset >= upperExclusive) break;
      if (batches.length > 0 && totalBytes + entry.batch.length > maxBytes) break;
      batches.push(entry.batch);
      totalBytes += entry.batch.length;
      nextOffset = entry.lastOffset + 1;
    }
    return { batches, totalBytes, nextOffset };
  }
}
