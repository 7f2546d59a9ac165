import type { Clock } from '@rivulet/common';
import { encodeRecordList } from '@rivulet/metadata';
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
function startFollower() {
  const time = { nowMs: 0 };
  const clock: Clock = { nowMs: () => time.nowMs, wallClockMs: () => time.nowMs };
  const source = new DrySource();
  const follower = new MetadataFollower({ source, onImage: () => Promise.resolve(), clock, staleAfterMs: 1000, reconnectBackoffMs: 1 });
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
