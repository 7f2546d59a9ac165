// Flow control state per follower (after etcd's Progress and Inflights).
import { asRaftIndex, asTerm } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { Inflights, Progress, ProgressState } from './progress.js';

const i = asRaftIndex;

describe('Inflights', () => {
  it('is a bounded window freed by acknowledgements', () => {
    const inflights = new Inflights(2);
    inflights.add(3);
    inflights.add(5);
    expect(inflights.full()).toBe(true);
    expect(() => inflights.add(7)).toThrow(/full/);
    inflights.freeUpTo(4);
    expect(inflights.count).toBe(1);
    inflights.freeUpTo(5);
    expect(inflights.count).toBe(0);
  });
});

describe('Progress', () => {
  it('probe: one message at a time until answered', () => {
    const progress = new Progress(i(5), 4);
    expect(progress.isPaused()).toBe(false);
    progress.sentEntries(i(6), 2);
    expect(progress.isPaused()).toBe(true);
    expect(progress.maybeUpdate(i(6))).toBe(true);
    expect(progress.isPaused()).toBe(false);
  });

  it('replicate: optimistic next, paused when the window is full', () => {
    const progress = new Progress(i(1), 2);
    progress.maybeUpdate(i(0));
    progress.becomeReplicate();
    progress.sentEntries(i(3), 3);
    progress.sentEntries(i(5), 2);
    expect(progress).toMatchObject({ next: 6, state: ProgressState.Replicate });
    expect(progress.isPaused()).toBe(true);
  });

  it('a rejection in replicate falls back to probing from the hint', () => {
    const progress = new Progress(i(1), 4);
    progress.maybeUpdate(i(2));
    progress.becomeReplicate();
    progress.sentEntries(i(10), 8);
    expect(progress.maybeDecreaseTo(i(6), i(4))).toBe(true);
    expect(progress).toMatchObject({ state: ProgressState.Probe, next: 5 });
  });

  it('ignores stale rejections', () => {
    const progress = new Progress(i(8), 4);
    progress.maybeUpdate(i(5));
    expect(progress.maybeDecreaseTo(i(4), i(0))).toBe(false);
    expect(progress.maybeDecreaseTo(i(6), i(0))).toBe(false);
  });

  it('snapshot: paused until the follower reports the snapshot installed', () => {
    const progress = new Progress(i(1), 4);
    progress.becomeSnapshot({ metadata: { index: i(20), term: asTerm(3), confState: { voters: [], learners: [] } }, data: new Uint8Array(8) });
    expect(progress.isPaused()).toBe(true);
    progress.maybeUpdate(i(20));
    progress.becomeProbe();
    expect(progress).toMatchObject({ state: ProgressState.Probe, next: 21 });
  });
});
