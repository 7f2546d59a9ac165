import { RivuletError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { WritePipeline } from './write-pipeline.js';
import type { LogOp, WriteParticipant } from './write-pipeline.js';

interface Work {
  readonly tags: string[];
}

/** Records the order in which LevelDB would have applied tags, and completions. */
function harness(options: { writeBatchBytesMax?: number; pendingWriteBytesMax?: number; failOn?: string } = {}) {
  const written: string[][] = [];
  const events: string[] = [];
  const pipeline = new WritePipeline({
    writeBatchBytesMax: options.writeBatchBytesMax ?? 1000,
    pendingWriteBytesMax: options.pendingWriteBytesMax ?? 10_000,
    writeBatch: async (ops: LogOp[]) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      const tags = ops.map((op) => op.key.toString());
      if (options.failOn !== undefined && tags.includes(options.failOn)) throw new Error('injected');
      written.push(tags);
    },
  });
  const participant: WriteParticipant<Work> = {
    prepareWrite: (work, ops) => {
      for (const tag of work.tags) ops.push({ type: 'del', key: Buffer.from(tag) });
      return true;
    },
    completeWrite: (work) => events.push(`ok ${work.tags.join(',')}`),
    failWrite: (work) => events.push(`failed ${work.tags.join(',')}`),
  };
  const add = (tag: string, bytes = 10): void => {
    pipeline.workFor(participant, bytes, () => ({ tags: [] })).tags.push(tag);
  };
  return { pipeline, written, events, add };
}

describe('WritePipeline', () => {
  it('groups one turn into one batch and keeps batches in order', async () => {
    const { pipeline, written, add } = harness();
    add('a');
    add('b');
    await new Promise((resolve) => setImmediate(resolve));
    add('c');
    await pipeline.whenIdle();
    expect(written).toEqual([['a', 'b'], ['c']]);
    expect(pipeline.stats.writeBatches).toBe(2);
  });

  it('splits a turn at writeBatchBytesMax', async () => {
    const { pipeline, written, add } = harness({ writeBatchBytesMax: 25 });
    for (const tag of ['a', 'b', 'c', 'd', 'e']) add(tag);
    await pipeline.whenIdle();
    expect(written).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('runs an exclusive task between the work issued before and after it', async () => {
    const { pipeline, written, add } = harness();
    add('before');
    const task = pipeline.runExclusive(async () => {
      written.push(['task']);
      return 42;
    });
    add('after');
    expect(await task).toBe(42);
    await pipeline.whenIdle();
    expect(written).toEqual([['before'], ['task'], ['after']]);
  });

  it('reports a failed write to its participants and carries on with later batches', async () => {
    const { pipeline, events, add } = harness({ failOn: 'bad' });
    add('bad');
    await new Promise((resolve) => setImmediate(resolve));
    add('good');
    await pipeline.whenIdle();
    expect(events).toEqual(['failed bad', 'ok good']);
    expect(pipeline.pendingWriteBytes()).toBe(0);
  });

  it('bounds the backlog with a retriable error, but never refuses work when nothing is pending', () => {
    const { pipeline, add } = harness({ pendingWriteBytesMax: 100 });
    expect(() => pipeline.checkCapacity(500)).not.toThrow();
    add('a', 60);
    expect(() => pipeline.checkCapacity(30)).not.toThrow();
    let error: unknown;
    try {
      pipeline.checkCapacity(50);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RivuletError);
    expect((error as RivuletError).retriable).toBe(true);
    return pipeline.whenIdle();
  });
});
