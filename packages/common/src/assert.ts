/**
 * Assertions catch programmer errors: a state the code believes impossible. They throw
 * `AssertionError`, which nothing in Rivulet catches, so the process crashes instead of
 * carrying on with a corrupt view of the world. Operating errors (bad input, a peer that is
 * down, a full disk) are never asserted: they are typed `RivuletError`s and handled.
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks a branch the type system proves unreachable, e.g. the default of an exhaustive switch. */
export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}

/** Asserts a value is a non-negative safe integer, the representation of every offset, index and count. */
export function assertSafeUint(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AssertionError(`${what} must be a non-negative safe integer, got ${value}`);
  }
}
