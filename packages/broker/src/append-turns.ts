/** One place in the line: wait for `ready`, do the ordered step, then `release` (always, even on failure). */
export interface AppendTurn {
  readonly ready: Promise<void>;
  readonly release: () => void;
}

/**
 * Keeps a partition's appends in the order their requests arrived. A produce is validated
 * asynchronously (decompression runs off the main thread), so a producer's batch sent second
 * could otherwise reach the log first: out of the order it was sent in, and for an idempotent
 * producer refused as out of sequence (librdkafka keeps up to five in flight). Validation still
 * runs concurrently; only the step from "validated" to "handed to the log" waits its turn.
 * The line is as long as the produces in flight for the partition, which the connections'
 * in-flight windows bound.
 */
export class AppendTurns {
  private last: Promise<void> = Promise.resolve();

  take(): AppendTurn {
    const ready = this.last;
    let release!: () => void;
    this.last = new Promise<void>((resolve) => {
      release = resolve;
    });
    return { ready, release };
  }
}
