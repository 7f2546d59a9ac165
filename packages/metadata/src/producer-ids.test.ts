import { describe, expect, it } from 'vitest';
import { PRODUCER_ID_BLOCK_SIZE, allocateProducerIds } from './decisions.js';
import { FIRST_PRODUCER_ID, imageFromRecords, imageToRecords } from './image.js';
import type { MetadataImage } from './image.js';
import { decodeRecordList, encodeRecordList } from './records.js';
import { apply, clusterImage } from './test-helpers.js';

/** Allocates one block for `brokerId` and commits it; returns the block start and the new image. */
function allocate(image: MetadataImage, brokerId: number): { start: number; image: MetadataImage } {
  const decided = allocateProducerIds(image, brokerId, 100 + brokerId);
  if (!decided.ok) throw decided.error;
  expect(decided.value.length).toBe(PRODUCER_ID_BLOCK_SIZE);
  return { start: decided.value.start, image: apply(image, decided.value.records) };
}

describe('producer id blocks (KIP-730)', () => {
  it('hands out consecutive, disjoint blocks, starting at 1', () => {
    let image = clusterImage(2);
    const starts: number[] = [];
    for (const brokerId of [1, 2, 1]) {
      const step = allocate(image, brokerId);
      starts.push(step.start);
      image = step.image;
    }
    expect(starts).toEqual([FIRST_PRODUCER_ID, FIRST_PRODUCER_ID + 1000, FIRST_PRODUCER_ID + 2000]);
    expect(image.nextProducerId).toBe(FIRST_PRODUCER_ID + 3000);
  });

  it('never repeats a block after a snapshot and a restart of the controller', () => {
    const first = allocate(clusterImage(1), 1);
    const restored = imageFromRecords(decodeRecordList(encodeRecordList(imageToRecords(first.image))), first.image.offset);
    expect(restored.nextProducerId).toBe(first.image.nextProducerId);
    expect(allocate(restored, 1).start).toBe(first.start + PRODUCER_ID_BLOCK_SIZE);
  });

  it('refuses an unregistered broker and a stale broker epoch', () => {
    const image = clusterImage(1);
    const unknown = allocateProducerIds(image, 9, 1);
    const stale = allocateProducerIds(image, 1, 5);
    expect(unknown.ok ? 'ok' : unknown.error.errorName).toBe('BROKER_ID_NOT_REGISTERED');
    expect(stale.ok ? 'ok' : stale.error.errorName).toBe('STALE_BROKER_EPOCH');
  });
});
