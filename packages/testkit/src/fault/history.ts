/**
 * The history of a fault test: every produce attempt and its outcome, every record any
 * consumer read, and when each fault began and ended. Append-only; timestamps are
 * monotonic milliseconds since the history began. Values must be unique across the whole
 * history (for example `${producerId}-${seq}`): the checker identifies records by value.
 */

export type HistoryEvent =
  | { readonly type: 'produce-invoke'; readonly t: number; readonly producer: string; readonly partition: number; readonly value: string }
  | { readonly type: 'produce-ok'; readonly t: number; readonly partition: number; readonly offset: number; readonly value: string }
  | { readonly type: 'produce-fail'; readonly t: number; readonly partition: number; readonly value: string; readonly error: string }
  /** An outcome nobody knows: the request timed out, the record may or may not be in the log. */
  | { readonly type: 'produce-unknown'; readonly t: number; readonly partition: number; readonly value: string; readonly error: string }
  | { readonly type: 'consume-read'; readonly t: number; readonly reader: string; readonly partition: number; readonly offset: number; readonly value: string }
  | { readonly type: 'fault-start'; readonly t: number; readonly name: string; readonly detail?: string }
  | { readonly type: 'fault-end'; readonly t: number; readonly name: string; readonly detail?: string }
  /** The producers stopped: availability windows end here. */
  | { readonly type: 'workload-end'; readonly t: number }
  /** Free text for people reading a failed run (consumer restarts, waits); the checker ignores it. */
  | { readonly type: 'note'; readonly t: number; readonly text: string };

export type HistoryEventType = HistoryEvent['type'];

/** Spreads an event union over its members, so `Omit` keeps each member's own fields. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type HistoryEventInput = DistributiveOmit<HistoryEvent, 't'>;

export class History {
  private readonly list: HistoryEvent[] = [];
  private readonly originMs: number;
  private lastT = 0;

  /** `nowMs` is any monotonic millisecond clock (default `performance.now`). */
  constructor(private readonly nowMs: () => number = () => performance.now()) {
    this.originMs = nowMs();
  }

  /** A history of given events, e.g. hand-made ones in tests or one loaded from a JSON dump. */
  static of(events: readonly HistoryEvent[]): History {
    const history = new History(() => 0);
    for (const event of events) {
      if (event.t < history.lastT) throw new Error(`history events must have non-decreasing timestamps: ${event.t} after ${history.lastT}`);
      history.list.push(event);
      history.lastT = event.t;
    }
    return history;
  }

  get events(): readonly HistoryEvent[] {
    return this.list;
  }

  get length(): number {
    return this.list.length;
  }

  /** Milliseconds since the history began, never less than the last event's. */
  now(): number {
    this.lastT = Math.max(this.lastT, this.nowMs() - this.originMs);
    return this.lastT;
  }

  append(event: HistoryEventInput): HistoryEvent {
    const full = { ...event, t: this.now() } as HistoryEvent;
    this.list.push(full);
    return full;
  }

  produceInvoke(producer: string, partition: number, value: string): void {
    this.append({ type: 'produce-invoke', producer, partition, value });
  }

  produceOk(partition: number, offset: number, value: string): void {
    this.append({ type: 'produce-ok', partition, offset, value });
  }

  produceFail(partition: number, value: string, error: string): void {
    this.append({ type: 'produce-fail', partition, value, error });
  }

  produceUnknown(partition: number, value: string, error: string): void {
    this.append({ type: 'produce-unknown', partition, value, error });
  }

  consumeRead(reader: string, partition: number, offset: number, value: string): void {
    this.append({ type: 'consume-read', reader, partition, offset, value });
  }

  faultStart(name: string, detail?: string): void {
    this.append(detail === undefined ? { type: 'fault-start', name } : { type: 'fault-start', name, detail });
  }

  faultEnd(name: string, detail?: string): void {
    this.append(detail === undefined ? { type: 'fault-end', name } : { type: 'fault-end', name, detail });
  }

  workloadEnd(): void {
    this.append({ type: 'workload-end' });
  }

  note(text: string): void {
    this.append({ type: 'note', text });
  }

  /** One JSON event per line, for saving a failed run next to its seed. */
  toJsonLines(): string {
    return this.list.map((e) => JSON.stringify(e)).join('\n') + '\n';
  }

  static fromJsonLines(text: string): History {
    return History.of(
      text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as HistoryEvent),
    );
  }
}
