import { noopLogger, systemClock, type Clock, type Logger } from '@rivulet/common';
import { EMPTY_IMAGE, applyRecords, decodeRecordList, imageFromRecords, type MetadataImage } from '@rivulet/metadata';
import type { controllerApi } from '@rivulet/proto';

/** The part of the controller channel the follower uses. */
export interface MetadataSource {
  watchMetadata(afterOffset: number, onBatch: (batch: controllerApi.MetadataBatch) => Promise<void>, signal: AbortSignal): Promise<void>;
}

export interface MetadataFollowerOptions {
  readonly source: MetadataSource;
  /** Called with every new image, in order; the stream waits for it (back-pressure). */
  readonly onImage: (image: MetadataImage) => Promise<void>;
  readonly logger?: Logger;
  /** Pause before reconnecting after the stream ended or failed. Default 200 ms. */
  readonly reconnectBackoffMs?: number;
  /**
   * How long the applied image may stay behind an offset the active controller reported
   * (`noteActiveOffset`) before the stream is taken for stale and reconnected. Default 1000 ms.
   */
  readonly staleAfterMs?: number;
  readonly clock?: Clock;
}

/**
 * Follows the committed metadata log: a stream from the last applied offset, resumed after
 * every disconnect, building the broker's local MetadataImage from snapshots and entries.
 *
 * Any controller serves the stream, and one cut off from the quorum (or from this broker,
 * silently) leaves it open but dry. The active controller's heartbeat answers say how far
 * the log is committed: a stream that stays behind that for `staleAfterMs` is dropped and
 * reopened, from the controller that answers heartbeats.
 */
export class MetadataFollower {
  private current: MetadataImage = EMPTY_IMAGE;
  private readonly abort = new AbortController();
  /** Ends the current stream only (the loop reconnects). */
  private attempt: AbortController | undefined;
  private behindSinceMs: number | undefined;
  private loop: Promise<void> = Promise.resolve();
  /**
   * The batches being applied, one after another: a stream reopened while the old one's image
   * is still in onImage must not hand the next image over alongside it (the broker would open
   * replicas twice, and the older image could land last).
   */
  private applying: Promise<void> = Promise.resolve();
  private isApplying = false;
  private readonly logger: Logger;

  constructor(private readonly options: MetadataFollowerOptions) {
    this.logger = (options.logger ?? noopLogger).child({ component: 'metadata-follower' });
  }

  get image(): MetadataImage {
    return this.current;
  }

  start(): void {
    this.loop = this.run();
  }

  /** The active controller's committed offset, as a heartbeat answer reported it. */
  noteActiveOffset(offset: number): void {
    const clock = this.options.clock ?? systemClock;
    // An image still being applied holds the stream back (back-pressure): slow, not stale.
    if (this.current.offset >= offset || this.isApplying) {
      this.behindSinceMs = undefined;
      return;
    }
    const nowMs = clock.nowMs();
    this.behindSinceMs ??= nowMs;
    const behindMs = nowMs - this.behindSinceMs;
    if (behindMs < (this.options.staleAfterMs ?? 1000) || this.attempt === undefined) return;
    this.logger.warn({ offset: this.current.offset, activeOffset: offset, behindMs }, 'metadata stream is behind the active controller; reconnecting');
    this.behindSinceMs = undefined;
    this.attempt.abort();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      const attempt = new AbortController();
      const stop = (): void => attempt.abort();
      signal.addEventListener('abort', stop);
      this.attempt = attempt;
      try {
        await this.options.source.watchMetadata(this.current.offset, (batch) => this.apply(batch), attempt.signal);
        failures = 0;
      } catch (error) {
        // Logged on the first failure of a run only: a controller down for a while is one event.
        if (failures++ === 0) this.logger.warn({ err: error, offset: this.current.offset }, 'metadata stream failed; reconnecting');
      } finally {
        signal.removeEventListener('abort', stop);
        this.attempt = undefined;
      }
      if (signal.aborted) break;
      await new Promise((resolve) => setTimeout(resolve, this.options.reconnectBackoffMs ?? 200));
    }
  }

  private apply(batch: controllerApi.MetadataBatch): Promise<void> {
    const applied = this.applying.then(() => this.applyInOrder(batch));
    this.applying = applied.catch(() => undefined);
    return applied;
  }

  private async applyInOrder(batch: controllerApi.MetadataBatch): Promise<void> {
    let image = this.current;
    if (batch.snapshot) {
      const entry = batch.entries[0];
      // A stream reopened from an older offset may start with what this image already holds.
      if (entry === undefined || entry.offset <= image.offset) return;
      image = imageFromRecords(decodeRecordList(entry.records), entry.offset);
      if (image.offset !== entry.offset) image = { ...image, offset: entry.offset };
      this.logger.info({ offset: entry.offset, topics: image.topicsByName.size, brokers: image.brokers.size }, 'loaded a metadata snapshot');
    } else {
      for (const entry of batch.entries) {
        if (entry.offset <= image.offset) continue;
        image = applyRecords(image, decodeRecordList(entry.records), entry.offset);
        if (image.offset !== entry.offset) image = { ...image, offset: entry.offset };
      }
    }
    if (image === this.current) return;
    this.current = image;
    this.isApplying = true;
    try {
      await this.options.onImage(image);
    } finally {
      this.isApplying = false;
    }
  }
}
