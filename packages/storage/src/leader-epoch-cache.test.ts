import { describe, expect, it } from 'vitest';
import { LeaderEpochCache, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET } from './leader-epoch-cache.js';

describe('LeaderEpochCache (Kafka LeaderEpochFileCache semantics)', () => {
  it('assigns only when the epoch changes or the start offset moves back', () => {
    const cache = new LeaderEpochCache();
    expect(cache.assign(2, 6).put).toEqual([{ leaderEpoch: 2, startOffset: 6 }]);
    expect(cache.assign(2, 10)).toEqual({ removed: [], put: [] });
    expect(cache.assign(3, 10).put).toHaveLength(1);
    expect(cache.list()).toEqual([
      { leaderEpoch: 2, startOffset: 6 },
      { leaderEpoch: 3, startOffset: 10 },
    ]);
  });

  it('removes conflicting later entries so both columns stay strictly increasing', () => {
    const cache = new LeaderEpochCache([
      { leaderEpoch: 1, startOffset: 0 },
      { leaderEpoch: 3, startOffset: 5 },
      { leaderEpoch: 5, startOffset: 9 },
    ]);
    const change = cache.assign(4, 5);
    expect(change.removed).toEqual([
      { leaderEpoch: 5, startOffset: 9 },
      { leaderEpoch: 3, startOffset: 5 },
    ]);
    expect(cache.list()).toEqual([
      { leaderEpoch: 1, startOffset: 0 },
      { leaderEpoch: 4, startOffset: 5 },
    ]);
    // Same epoch, earlier start: overwritten in place (a put, no delete of the same key).
    expect(cache.assign(4, 3)).toEqual({ removed: [], put: [{ leaderEpoch: 4, startOffset: 3 }] });
  });

  it('truncates from the end and from the start', () => {
    const cache = new LeaderEpochCache([
      { leaderEpoch: 1, startOffset: 0 },
      { leaderEpoch: 2, startOffset: 10 },
      { leaderEpoch: 4, startOffset: 20 },
    ]);
    expect(cache.truncateFromEnd(20).removed).toEqual([{ leaderEpoch: 4, startOffset: 20 }]);
    expect(cache.truncateFromStart(15)).toEqual({ removed: [{ leaderEpoch: 1, startOffset: 0 }], put: [{ leaderEpoch: 2, startOffset: 15 }] });
    expect(cache.list()).toEqual([{ leaderEpoch: 2, startOffset: 15 }]);
    expect(cache.truncateFromStart(15)).toEqual({ removed: [], put: [] });
  });

  it('answers OffsetForLeaderEpoch as Kafka does', () => {
    const cache = new LeaderEpochCache([
      { leaderEpoch: 2, startOffset: 10 },
      { leaderEpoch: 4, startOffset: 30 },
      { leaderEpoch: 7, startOffset: 50 },
    ]);
    const logEnd = 60;
    expect(cache.endOffsetFor(7, logEnd)).toEqual({ leaderEpoch: 7, endOffset: 60 });
    expect(cache.endOffsetFor(4, logEnd)).toEqual({ leaderEpoch: 4, endOffset: 50 });
    expect(cache.endOffsetFor(5, logEnd)).toEqual({ leaderEpoch: 4, endOffset: 50 });
    expect(cache.endOffsetFor(1, logEnd)).toEqual({ leaderEpoch: 1, endOffset: 10 });
    expect(cache.endOffsetFor(8, logEnd)).toEqual({ leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET });
    expect(cache.endOffsetFor(UNDEFINED_EPOCH, logEnd)).toEqual({ leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET });
    expect(new LeaderEpochCache().endOffsetFor(0, 5)).toEqual({ leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET });
  });
});
