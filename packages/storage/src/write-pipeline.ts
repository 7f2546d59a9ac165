import { RivuletError, assert } from '@rivulet/common';

export type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/**
 * An operation of the log store's write: `put` and `del` act on its index database;
 * `putBatch` stores a batch's bytes in its batch database under a batch-sequence key, and
 * `dropBatch` names a batch whose data key this write deletes, so its bytes can go once the
 * write has committed (see log-store.ts).
 */
export type LogOp = BatchOp | { type: 'putBatch'; key: Buffer; value: Buffer } | { type: 'dropBatch'; key: Buffer };

/**
 * One participant's share of a group-committed write batch. The pipeline knows nothing of
 * partitions: it asks each participant for its operations just before the write (when
 * every earlier write has committed, so the participant can derive state from committed
 * values) and tells it how the write ended.
 */
export interface WriteParticipant<W> {
  /** Appends this participant's operations for `work` to `ops`; returns false to drop it (e.g. the partition was deleted). */
  prepareWrite(work: W, ops: LogOp[]): boolean;
  completeWrite(work: W): void;
  failWrite(work: W, error: Error): void;
}

interface GroupBatch {
  readonly kind: 'batch';
  readonly works: Map<WriteParticipant<unknown>, unknown>;
  bytes: number;
}

interface ExclusiveTask {
  readonly kind: 'task';
  readonly run: () => Promise<void>;
}

type PipelineItem = GroupBatch | ExclusiveTask;

export interface WritePipelineOptions {
  /** Writes one batch of operations (the log store's write: crash-safe, see log-store.ts); resolves when LevelDB has applied it. */
  readonly writeBatch: (ops: LogOp[]) => Promise<void>;
  readonly writeBatchBytesMax: number;
  readonly pendingWriteBytesMax: number;
}

export interface WritePipelineStats {
  /** Group-commit write batches handed to LevelDB, successful or not. */
  writeBatches: number;
  exclusiveTasks: number;
}

/**
 * Group commit. Work issued during one event-loop turn (and while a write is in flight)
 * collects in the open batch; the pipeline writes one LevelDB batch at a time, strictly in
 * order, so a later write never becomes durable before an earlier one. An exclusive task
 * (truncation, deletion) seals the open batch and runs alone between two batches, so its
 * reads see every earlier write and no later one.
 */
export class WritePipeline {
  private open: GroupBatch = newGroupBatch();
  private readonly sealed: PipelineItem[] = [];
  private writing = false;
  /** The group batch LevelDB is writing now, if any. */
  private inFlight: GroupBatch | undefined;
  private flushScheduled = false;
  private pendingBytes = 0;
  private idleWaiters: (() => void)[] = [];
  readonly stats: WritePipelineStats = { writeBatches: 0, exclusiveTasks: 0 };

  constructor(private readonly options: WritePipelineOptions) {
    assert(options.writeBatchBytesMax > 0, 'writeBatchBytesMax must be positive');
  }

  /** Bytes accepted but not yet written. */
  pendingWriteBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Throws a retriable error when accepting `bytes` more would exceed the bound on
   * unwritten data, so a producer faster than the disk is pushed back rather than
   * growing memory without limit. A single item larger than the bound is accepted when
   * nothing else is pending, so no batch can be refused forever.
   */
  checkCapacity(bytes: number): void {
    if (this.pendingBytes > 0 && this.pendingBytes + bytes > this.options.pendingWriteBytesMax) {
      throw new RivuletError(
        'THROTTLING_QUOTA_EXCEEDED',
        `storage write backlog full (${this.pendingBytes} bytes pending, bound ${this.options.pendingWriteBytesMax}); retry later`,
      );
    }
  }

  /**
   * The participant's work item in the open batch, created by `create` if absent. `bytes`
   * is what the caller is about to add; when it would push a non-empty batch beyond
   * writeBatchBytesMax, the open batch is sealed first and the work goes to a new one.
   */
  workFor<W>(participant: WriteParticipant<W>, bytes: number, create: () => W): W {
    if (this.open.bytes > 0 && this.open.bytes + bytes > this.options.writeBatchBytesMax) this.seal();
    const works = this.open.works as Map<WriteParticipant<W>, W>;
    let work = works.get(participant);
    if (work === undefined) {
      work = create();
      works.set(participant, work);
    }
    this.open.bytes += bytes;
    this.pendingBytes += bytes;
    this.scheduleFlush();
    return work;
  }

  /** The participant's work items not yet committed, oldest first. */
  pendingWorkOf<W>(participant: WriteParticipant<W>): W[] {
    const works: W[] = [];
    const batches: PipelineItem[] = this.inFlight === undefined ? [...this.sealed, this.open] : [this.inFlight, ...this.sealed, this.open];
    for (const item of batches) {
      if (item.kind !== 'batch') continue;
      const work = (item.works as Map<WriteParticipant<W>, W>).get(participant);
      if (work !== undefined) works.push(work);
    }
    return works;
  }

  /** Runs `run` alone, after every write issued before this call and before any issued after. */
  runExclusive<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.seal();
      this.sealed.push({
        kind: 'task',
        run: async () => {
          try {
            resolve(await run());
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        },
      });
      this.scheduleFlush();
    });
  }

  /** Resolves once everything issued so far has been written (or has failed). */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return !this.writing && this.sealed.length === 0 && this.open.works.size === 0;
  }

  private seal(): void {
    if (this.open.works.size === 0) return;
    this.sealed.push(this.open);
    this.open = newGroupBatch();
  }

  private scheduleFlush(): void {
    if (this.writing || this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate rather than a microtask: everything issued in this turn, including work
    // from promise continuations, joins the same batch.
    setImmediate(() => {
      this.flushScheduled = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (true) {
        let item = this.sealed.shift();
        if (item === undefined) {
          if (this.open.works.size === 0) break;
          item = this.open;
          this.open = newGroupBatch();
        }
        if (item.kind === 'task') {
          this.stats.exclusiveTasks++;
          await item.run();
        } else {
          await this.writeGroup(item);
        }
      }
    } finally {
      this.writing = false;
    }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  private async writeGroup(batch: GroupBatch): Promise<void> {
    const ops: LogOp[] = [];
    const included: [WriteParticipant<unknown>, unknown][] = [];
    for (const [participant, work] of batch.works) {
      if (participant.prepareWrite(work, ops)) included.push([participant, work]);
    }
    this.inFlight = batch;
    try {
      if (ops.length > 0) {
        this.stats.writeBatches++;
        await this.options.writeBatch(ops);
      }
    } catch (error) {
      const cause = error instanceof Error ? error : new Error(String(error));
      for (const [participant, work] of included) participant.failWrite(work, cause);
      return;
    } finally {
      this.inFlight = undefined;
      this.pendingBytes -= batch.bytes;
    }
    for (const [participant, work] of included) participant.completeWrite(work);
  }
}

function newGroupBatch(): GroupBatch {
  return { kind: 'batch', works: new Map(), bytes: 0 };
}
