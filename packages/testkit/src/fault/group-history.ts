/**
 * The history of a consumer-group fault test: what each group member (a worker process, see
 * `GroupConsumerProcess`) reported — partitions assigned, revoked and lost with the generation
 * they belong to, every record it processed, every offset commit — and what the harness did to
 * the members and the cluster (starts, kills, faults).
 *
 * Timestamps are wall-clock milliseconds (`Date.now()`): the members are separate processes on
 * the same machine, so their clocks agree, and a commit that depends on another member's
 * processing (through the coordinator) is stamped after it. Events are kept in the order they
 * arrived; one member's events arrive in the order it wrote them (one pipe), events of different
 * members may interleave out of timestamp order, so time-based figures sort by `t`.
 */

/** One partition's next offset to consume, as committed. */
export interface CommittedPartition {
  readonly partition: number;
  readonly offset: number;
}

/** What a member process writes, one JSON object per line; the harness adds the member's name. */
export type MemberReport =
  /** The consumer is created and subscribed; joining starts. */
  | { readonly type: 'ready'; readonly t: number; readonly pid: number }
  /** After a rebalance: `partitions` newly assigned (maybe none), `owned` everything the member consumes in `generation`. */
  | { readonly type: 'assigned'; readonly t: number; readonly generation: number; readonly memberId: string; readonly partitions: readonly number[]; readonly owned: readonly number[] }
  /** Partitions given up in a rebalance (their records are no longer handed out). */
  | { readonly type: 'revoked'; readonly t: number; readonly generation: number; readonly partitions: readonly number[] }
  /** Partitions the group may already have given to another member (this one missed a generation). */
  | { readonly type: 'lost'; readonly t: number; readonly generation: number; readonly partitions: readonly number[] }
  /** The application finished processing one record. */
  | { readonly type: 'processed'; readonly t: number; readonly partition: number; readonly offset: number; readonly value: string }
  /** A commit is about to be sent; every `processed` line before it has been flushed to the pipe. */
  | { readonly type: 'committing'; readonly t: number; readonly generation: number; readonly offsets: readonly CommittedPartition[] }
  /** The coordinator accepted the commit. */
  | { readonly type: 'committed'; readonly t: number; readonly generation: number; readonly offsets: readonly CommittedPartition[] }
  | { readonly type: 'commit-failed'; readonly t: number; readonly generation: number; readonly offsets: readonly CommittedPartition[]; readonly error: string }
  /** The consumer failed (its reader threw); the process exits. */
  | { readonly type: 'failed'; readonly t: number; readonly error: string }
  /** Closed gracefully (SIGTERM): committed, left the group. */
  | { readonly type: 'closed'; readonly t: number };

type WithMember<T> = T extends unknown ? T & { readonly member: string } : never;

export type GroupEvent =
  | WithMember<MemberReport>
  /** The harness started a member process. */
  | { readonly type: 'member-start'; readonly t: number; readonly member: string }
  /** A member process ended: killed by the harness (`signal`), or exited (`code`). Its ownership ends here. */
  | { readonly type: 'member-exit'; readonly t: number; readonly member: string; readonly code: number | null; readonly signal: string | null }
  | { readonly type: 'fault-start'; readonly t: number; readonly name: string; readonly detail?: string }
  | { readonly type: 'fault-end'; readonly t: number; readonly name: string; readonly detail?: string }
  /** For people reading a run; the checker ignores it. */
  | { readonly type: 'note'; readonly t: number; readonly text: string };

export type GroupEventType = GroupEvent['type'];

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type GroupEventInput = DistributiveOmit<GroupEvent, 't'> & { readonly t?: number };

/** Default bound on the events kept: far above a 10-minute long run (a few hundred thousand). */
const DEFAULT_MAX_EVENTS = 5_000_000;

export class GroupHistory {
  private readonly list: GroupEvent[] = [];
  /** Events refused because the history was full; the checker fails a history that dropped any. */
  dropped = 0;

  constructor(
    private readonly nowMs: () => number = () => Date.now(),
    readonly maxEvents = DEFAULT_MAX_EVENTS,
  ) {}

  static of(events: readonly GroupEvent[]): GroupHistory {
    const history = new GroupHistory(() => 0, Math.max(DEFAULT_MAX_EVENTS, events.length));
    history.list.push(...events);
    return history;
  }

  get events(): readonly GroupEvent[] {
    return this.list;
  }

  get length(): number {
    return this.list.length;
  }

  now(): number {
    return this.nowMs();
  }

  /** Appends an event, stamped now unless it carries its own `t` (a member's report does). */
  append(event: GroupEventInput): void {
    if (this.list.length >= this.maxEvents) {
      this.dropped++;
      return;
    }
    this.list.push({ ...event, t: event.t ?? this.nowMs() } as GroupEvent);
  }

  faultStart(name: string, detail?: string): void {
    this.append(detail === undefined ? { type: 'fault-start', name } : { type: 'fault-start', name, detail });
  }

  faultEnd(name: string, detail?: string): void {
    this.append(detail === undefined ? { type: 'fault-end', name } : { type: 'fault-end', name, detail });
  }

  note(text: string): void {
    this.append({ type: 'note', text });
  }

  toJsonLines(): string {
    return this.list.map((e) => JSON.stringify(e)).join('\n') + '\n';
  }

  static fromJsonLines(text: string): GroupHistory {
    return GroupHistory.of(
      text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as GroupEvent),
    );
  }
}

/** Parses one line a member wrote; undefined for anything that is not a report. */
export function parseMemberReport(line: string): MemberReport | undefined {
  if (!line.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const report = value as { type?: unknown; t?: unknown };
  if (typeof report.type !== 'string' || typeof report.t !== 'number') return undefined;
  return REPORT_TYPES.has(report.type) ? (value as MemberReport) : undefined;
}

const REPORT_TYPES: ReadonlySet<string> = new Set<MemberReport['type']>(['ready', 'assigned', 'revoked', 'lost', 'processed', 'committing', 'committed', 'commit-failed', 'failed', 'closed']);
