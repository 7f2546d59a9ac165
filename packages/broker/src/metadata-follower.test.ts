import type { Clock } from '@rivulet/common';
import { encodeRecordList } from '@rivulet/metadata';
import type { MetadataImage } from '@rivulet/metadata';
import type { controllerApi } from '@rivulet/proto';
import { describe, expect, it } from 'vitest';
import { MetadataFollower, type MetadataSource } from './metadata-follower.js';

/** A source whose streams stay open and deliver nothing (a controller cut off from the quorum), until `deliver`. */
class DrySource implements MetadataSource {
  readonly watches: { afterOffset: number; signal: AbortSignal; deliver: (batch: controllerApi.MetadataBatch) => Promise<void> }[] = [];

  watchMetadata(afterOffset: number, onBatch: (batch: controllerApi.MetadataBatch) => Promise<void>, signal: AbortSignal): Promise<void> {
    this.watches.push({ afterOffset, signal, deliver: onBatch });
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve()));
  }
}

const waitFor = async (what: string, condition: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
};

/** A started follower on a dry source, with a clock the test moves (`time.nowMs`). */
function startFollower(onImage: (image: MetadataImage) => Promise<void> = () => Promise.resolve()) {
  const time = { nowMs: 0 };
  const clock: Clock = { nowMs: () => time.nowMs, wallClockMs: () => time.nowMs };
  const source = new DrySource();
  const follower = new MetadataFollower({ source, onImage, clock, staleAfterMs: 1000, reconnectBackoffMs: 1 });
  follower.start();
  return { time, source, follower };
}

describe('MetadataFollower', () => {
  it('reopens a stream that stays behind the offset the active controller reported', async () => {
    const { time, source, follower } = startFollower();
    try {
      await waitFor('the first watch', () => source.watches.length === 1);
      follower.noteActiveOffset(5);
      time.nowMs = 999;
      follower.noteActiveOffset(5);
      expect(source.watches[0]!.signal.aborted).toBe(false);
      time.nowMs = 1000;
      follower.noteActiveOffset(6);
      expect(source.watches[0]!.signal.aborted).toBe(true);
      await waitFor('a new watch', () => source.watches.length === 2);
      expect(source.watches[1]!.afterOffset).toBe(-1);
    } finally {
      await follower.stop();
    }
  });

  it('hands images over one at a time and in order, and does not take a stream held back by a slow one for stale', async () => {
    const started: number[] = [];
    let running = 0;
    let mostRunning = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { time, source, follower } = startFollower(async (image) => {
      started.push(image.offset);
      mostRunning = Math.max(mostRunning, ++running);
      // The first image takes long to apply, as 10,000 replicas opening on a restart do.
      if (image.offset === 0) await gate;
      running--;
    });
    try {
      await waitFor('the first watch', () => source.watches.length === 1);
      const entry = (offset: number) => ({ offset, records: Buffer.from(encodeRecordList([])) });
      const first = source.watches[0]!.deliver({ snapshot: false, entries: [entry(0)] });
      const second = source.watches[0]!.deliver({ snapshot: false, entries: [entry(1)] });
      await waitFor('the first image to start', () => started.length === 1);
      follower.noteActiveOffset(1);
      time.nowMs = 5000;
      follower.noteActiveOffset(1);
      expect(source.watches[0]!.signal.aborted).toBe(false);
      expect(started).toEqual([0]);
      release();
      await Promise.all([first, second]);
      expect(started).toEqual([0, 1]);
      expect(mostRunning).toBe(1);
      expect(follower.image.offset).toBe(1);
    } finally {
      release();
      await follower.stop();
    }
  });

  it('leaves a stream alone while it keeps up', async () => {
    const { time, source, follower } = startFollower();
    try {
      await waitFor('the first watch', () => source.watches.length === 1);
      follower.noteActiveOffset(0);
      time.nowMs = 600;
      await source.watches[0]!.deliver({ snapshot: false, entries: [{ offset: 0, records: Buffer.from(encodeRecordList([])) }] });
      expect(follower.image.offset).toBe(0);
      time.nowMs = 5000;
      follower.noteActiveOffset(0);
      expect(source.watches[0]!.signal.aborted).toBe(false);
      expect(source.watches).toHaveLength(1);
    } finally {
      await follower.stop();
    }
  });
});
