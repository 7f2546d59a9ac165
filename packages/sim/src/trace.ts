import { assert } from '@rivulet/common';
import type { Message } from '@rivulet/raft';

/**
 * The last N things that happened, kept as cheap records and formatted only when a run
 * fails. A ring buffer: the memory of a run is bounded however long it goes.
 */
export class TraceRing {
  private readonly records: (string | (() => string))[] = [];
  private nextSlot = 0;
  private total = 0;

  constructor(private readonly capacity: number) {
    assert(capacity > 0, 'trace capacity must be positive');
  }

  /** Records a line; pass a function to defer formatting until a failure needs it. */
  add(line: string | (() => string)): void {
    if (this.records.length < this.capacity) {
      this.records.push(line);
    } else {
      this.records[this.nextSlot] = line;
    }
    this.nextSlot = (this.nextSlot + 1) % this.capacity;
    this.total++;
  }

  lines(): string[] {
    const ordered = this.records.length < this.capacity ? this.records : [...this.records.slice(this.nextSlot), ...this.records.slice(0, this.nextSlot)];
    const skipped = this.total - ordered.length;
    const formatted = ordered.map((record) => (typeof record === 'string' ? record : record()));
    return skipped > 0 ? [`… ${skipped} earlier events`, ...formatted] : formatted;
  }
}

export function describeMessage(message: Message): string {
  const head = `${message.type} ${message.from}→${message.to} t${message.term}`;
  switch (message.type) {
    case 'pre-vote':
    case 'vote':
      return `${head} last(${message.lastLogIndex},t${message.lastLogTerm})`;
    case 'pre-vote-response':
    case 'vote-response':
      return `${head} ${message.granted ? 'granted' : 'rejected'}`;
    case 'append':
      return `${head} prev(${message.prevLogIndex},t${message.prevLogTerm}) n=${message.entries.length} commit=${message.leaderCommitIndex}`;
    case 'append-response':
      return message.success
        ? `${head} ok match=${message.matchIndex}`
        : `${head} reject at=${message.rejectedIndex} hint(${message.hintIndex},t${message.hintTerm})`;
    case 'heartbeat':
      return `${head} commit=${message.commitIndex} ctx=${message.readContext}`;
    case 'heartbeat-response':
      return `${head} ctx=${message.readContext}`;
    case 'snapshot-chunk':
      return `${head} snap(${message.metadata.index},t${message.metadata.term}) ${message.offset}+${message.data.byteLength}/${message.totalBytes}`;
    case 'snapshot-chunk-response':
      return `${head} snap=${message.snapshotIndex} next=${message.nextOffset}`;
    case 'timeout-now':
      return head;
    case 'read-index':
      return `${head} req=${message.requestId}`;
    case 'read-index-response':
      return `${head} req=${message.requestId} ${message.accepted ? `index=${message.index}` : 'refused'}`;
  }
}
