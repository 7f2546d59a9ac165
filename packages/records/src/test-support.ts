import { expect } from 'vitest';
import { RivuletError } from '@rivulet/common';
import type { ErrorName } from '@rivulet/common';

/** Runs `action` and checks it throws a RivuletError with the given name; returns the error. */
export async function expectRivuletError(action: () => unknown, errorName: ErrorName): Promise<RivuletError> {
  try {
    await action();
  } catch (error) {
    expect(error).toBeInstanceOf(RivuletError);
    expect((error as RivuletError).errorName, (error as Error).message).toBe(errorName);
    return error as RivuletError;
  }
  throw new Error(`expected ${errorName}, but nothing was thrown`);
}

/** Runs `action`; passes when it succeeds or throws a RivuletError, fails on any other throw. */
export async function expectOnlyRivuletError(action: () => unknown): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (!(error instanceof RivuletError)) throw error;
  }
}
