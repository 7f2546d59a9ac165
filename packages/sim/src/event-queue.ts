import { assert } from '@rivulet/common';

/** One scheduled item: ordered by simulated time, then by insertion sequence (FIFO ties). */
interface Scheduled<T> {
  readonly timeMs: number;
  readonly seq: number;
  readonly item: T;
}

/**
 * A binary min-heap ordered by (timeMs, seq). The sequence number makes the order total,
 * so a run never depends on heap internals: the same seed pops the same events.
 */
export class EventQueue<T> {
  private readonly heap: Scheduled<T>[] = [];
  private nextSeq = 0;

  constructor(private readonly capacity: number) {
    assert(capacity > 0, 'event queue capacity must be positive');
  }

  get size(): number {
    return this.heap.length;
  }

  push(timeMs: number, item: T): void {
    assert(Number.isFinite(timeMs) && timeMs >= 0, `bad event time ${timeMs}`);
    assert(this.heap.length < this.capacity, `event queue overflow (${this.capacity})`);
    this.heap.push({ timeMs, seq: this.nextSeq++, item });
    this.siftUp(this.heap.length - 1);
  }

  pop(): { timeMs: number; item: T } | null {
    const top = this.heap[0];
    if (top === undefined) return null;
    const last = this.heap.pop();
    assert(last !== undefined, 'heap non-empty');
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return { timeMs: top.timeMs, item: top.item };
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a];
    const y = this.heap[b];
    assert(x !== undefined && y !== undefined, 'heap index in range');
    return x.timeMs < y.timeMs || (x.timeMs === y.timeMs && x.seq < y.seq);
  }

  private swap(a: number, b: number): void {
    const x = this.heap[a];
    const y = this.heap[b];
    assert(x !== undefined && y !== undefined, 'heap index in range');
    this.heap[a] = y;
    this.heap[b] = x;
  }

  private siftUp(index: number): void {
    let child = index;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!this.less(child, parent)) return;
      this.swap(child, parent);
      child = parent;
    }
  }

  private siftDown(index: number): void {
    let parent = index;
    for (;;) {
      const left = parent * 2 + 1;
      const right = left + 1;
      let smallest = parent;
      if (left < this.heap.length && this.less(left, smallest)) smallest = left;
      if (right < this.heap.length && this.less(right, smallest)) smallest = right;
      if (smallest === parent) return;
      this.swap(parent, smallest);
      parent = smallest;
    }
  }
}
