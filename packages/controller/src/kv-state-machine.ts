import type { RaftIndex } from '@rivulet/common';
import type { AppliedEntry } from './raft-driver.js';

/**
 * A trivial key/value state machine for the `raft-node` test process: each entry is a JSON
 * `{ key, value }` that sets the key. Deterministic, so every member that applied the same
 * prefix of the log holds the same map. Not the metadata controller (a later issue).
 */
export class KeyValueStateMachine {
  private values = new Map<string, string>();
  private applied = 0;

  get appliedIndex(): number {
    return this.applied;
  }

  static encodeCommand(key: string, value: string): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ key, value }));
  }

  /** Applies one committed entry. A malformed command is skipped by every member alike. */
  apply(entry: AppliedEntry): void {
    this.applied = entry.index;
    const command = parseCommand(entry.data);
    if (command !== null) this.values.set(command.key, command.value);
  }

  get(key: string): string | undefined {
    return this.values.get(key);
  }

  entries(): Record<string, string> {
    return Object.fromEntries(this.values);
  }

  get size(): number {
    return this.values.size;
  }

  takeSnapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ appliedIndex: this.applied, values: [...this.values] }));
  }

  installSnapshot(data: Uint8Array, index: RaftIndex): void {
    const parsed = JSON.parse(new TextDecoder().decode(data)) as { appliedIndex: number; values: [string, string][] };
    this.values = new Map(parsed.values);
    this.applied = index;
  }
}

function parseCommand(data: Uint8Array): { key: string; value: string } | null {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(data)) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const { key, value } = parsed as { key?: unknown; value?: unknown };
      if (typeof key === 'string' && typeof value === 'string') return { key, value };
    }
  } catch {
    // fall through: not a command
  }
  return null;
}
