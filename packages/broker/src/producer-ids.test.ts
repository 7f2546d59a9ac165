import { ErrorCode, RivuletError, noopLogger } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { ProducerIdManager, type ProducerIdBlock } from './producer-ids.js';

/** A controller double handing out blocks of `length` from 1, counting its calls. */
function controllerDouble(length: number) {
  let nextStart = 1;
  const calls: ProducerIdBlock[] = [];
  let failing = false;
  return {
    calls,
    setFailing: (value: boolean) => void (failing = value),
    allocate: (): Promise<ProducerIdBlock> => {
      if (failing) return Promise.reject(new RivuletError('NOT_CONTROLLER', 'no controller'));
      const block = { start: nextStart, length };
      nextStart += length;
      calls.push(block);
      return Promise.resolve(block);
    },
  };
}

describe('ProducerIdManager', () => {
  it('hands out every id of its blocks once, in order, fetching the next block ahead', async () => {
    const controller = controllerDouble(10);
    const ids = new ProducerIdManager({ allocate: controller.allocate, logger: noopLogger });
    const taken: number[] = [];
    for (let i = 0; i < 25; i++) taken.push(await ids.nextProducerId());
    expect(taken).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(controller.calls.length).toBe(3);
  });

  it('shares one allocation among concurrent callers', async () => {
    const controller = controllerDouble(100);
    const ids = new ProducerIdManager({ allocate: controller.allocate, logger: noopLogger });
    const taken = await Promise.all(Array.from({ length: 50 }, () => ids.nextProducerId()));
    expect(new Set(taken).size).toBe(50);
    expect(controller.calls.length).toBe(1);
  });

  it('fails the call, retriably, while the controller cannot allocate, and recovers after', async () => {
    const controller = controllerDouble(5);
    const ids = new ProducerIdManager({ allocate: controller.allocate, logger: noopLogger });
    controller.setFailing(true);
    const error = await ids.nextProducerId().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RivuletError);
    expect((error as RivuletError).code).toBe(ErrorCode.NOT_CONTROLLER);
    controller.setFailing(false);
    expect(await ids.nextProducerId()).toBe(1);
  });
});
