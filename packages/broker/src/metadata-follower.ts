import { noopLogger, type Logger } from '@rivulet/common';
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
}

/**
 * Follows the committed metadata log: a stream from the last applied offset, resumed after
 * every disconnect, building the broker's local MetadataImage from snapshots and entries.
 */
export class MetadataFollower {
  private current: MetadataImage = EMPTY_IMAGE;
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();
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

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        await this.options.source.watchMetadata(this.current.offset, (batch) => this.apply(batch), signal);
        failures = 0;
      } catch (error) {
        // Logged on the first failure of a run only: a controller down for a while is one event.
        if (failures++ === 0) this.logger.warn({ err: error, offset: this.current.offset }, 'metadata stream failed; reconnecting');
      }
      if (signal.aborted) break;
      await new Promise((resolve) => setTimeout(resolve, this.options.reconnectBackoffMs ?? 200));
    }
  }

  private async apply(batch: controllerApi.MetadataBatch): Promise<void> {
    let image = this.current;
    if (batch.snapshot) {
      const entry = batch.entries[0];
      if (entry === undefined) return;
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
    await this.options.onImage(image);
  }
}
