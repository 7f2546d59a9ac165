import { RivuletError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { answerInOrder } from './stream-answers.js';

/** A request stream the test feeds by hand; `taken` counts the requests the handler has read. */
function requestQueue<T>(): { push(value: T): void; end(): void; iterable: AsyncIterable<T>; taken(): number } {
  const values: T[] = [];
  let ended = false;
  let taken = 0;
  let wake: (() => void) | undefined;
  return {
    push(value) {
      values.push(value);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    taken: () => taken,
    iterable: {
      [Symbol.asyncIterator]: () => ({
        async next(): Promise<IteratorResult<T>> {
          while (values.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
          if (values.length === 0) return { value: undefined, done: true };
          taken++;
          return { value: values.shift() as T, done: false };
        },
      }),
    },
  };
}

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(err: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('answerInOrder', () => {
  it('starts every request as it arrives and answers in arrival order, whatever order they finish in', async () => {
    const work = new Map<number, ReturnType<typeof deferred<string>>>();
    const started: number[] = [];
    const handler = answerInOrder<number, string>(
      (request) => {
        started.push(request);
        const d = deferred<string>();
        work.set(request, d);
        return d.promise;
      },
      (err) => `error ${err.code}`,
      8,
    );
    const requests = requestQueue<number>();
    const written: string[] = [];
    const served = handler(requests.iterable, (answer) => Promise.resolve(void written.push(answer)), new AbortController().signal);
    for (const r of [1, 2, 3]) requests.push(r);
    await flush();
    expect(started).toEqual([1, 2, 3]);
    work.get(3)!.resolve('three');
    work.get(2)!.reject(new RivuletError('NOT_COORDINATOR', 'moved'));
    await flush();
    expect(written).toEqual([]);
    work.get(1)!.resolve('one');
    requests.end();
    await served;
    expect(written).toEqual(['one', 'error 16', 'three']);
  });

  it('reads no further while maxInFlight requests are unanswered', async () => {
    const pending: ReturnType<typeof deferred<number>>[] = [];
    const handler = answerInOrder<number, number>(
      () => {
        const d = deferred<number>();
        pending.push(d);
        return d.promise;
      },
      () => -1,
      2,
    );
    const requests = requestQueue<number>();
    const served = handler(requests.iterable, () => Promise.resolve(), new AbortController().signal);
    for (const r of [1, 2, 3, 4]) requests.push(r);
    await flush();
    expect(requests.taken()).toBe(2);
    pending[0]!.resolve(1);
    pending[1]!.resolve(2);
    await flush();
    expect(requests.taken()).toBe(4);
    pending[2]!.resolve(3);
    pending[3]!.resolve(4);
    requests.end();
    await served;
  });

  it('ends the stream with an error that is not a RivuletError (a bug)', async () => {
    const handler = answerInOrder<number, number>(() => Promise.reject(new TypeError('broken')), () => -1, 4);
    const requests = requestQueue<number>();
    const served = handler(requests.iterable, () => Promise.resolve(), new AbortController().signal);
    requests.push(1);
    requests.end();
    await expect(served).rejects.toThrow('broken');
  });
});
