import { assert } from '@rivulet/common';

/**
 * A request whose answer waits for something else: a rebalance, the leader's assignment, a
 * log append. Answered exactly once; a second answer is a bug in the coordinator.
 */
export class ParkedRequest<T> {
  readonly promise: Promise<T>;
  private resolvePromise!: (answer: T) => void;
  private answered = false;

  constructor() {
    this.promise = new Promise<T>((resolve) => {
      this.resolvePromise = resolve;
    });
  }

  get isAnswered(): boolean {
    return this.answered;
  }

  answer(answer: T): void {
    assert(!this.answered, 'a parked request was answered twice');
    this.answered = true;
    this.resolvePromise(answer);
  }
}
