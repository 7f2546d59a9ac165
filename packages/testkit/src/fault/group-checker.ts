import { GroupHistory, type GroupEvent } from './group-history.js';

/**
 * What the group checker fails a history on:
 * - `unprocessed`: an acknowledged record no member processed (a skipped record).
 * - `wrong-offset`: an acknowledged record processed only at offsets other than its acknowledged one.
 * - `conflicting-offset`: a member processed, at an offset, a value other than the one acknowledged
 *   there, or two members processed different values at one offset.
 * - `unknown-record`: a member processed a value nobody produced, or in a partition it was not produced to.
 * - `double-owner`: two members own one partition in one generation (the assignment gave it twice).
 * - `unowned-processing`: a member processed a record of a partition it did not own at the time
 *   (before its assignment, or after it gave the partition up).
 * - `offset-gap` / `out-of-order`: while a member kept a partition, its processed offsets skipped
 *   some (offsets are dense here) or went backwards.
 * - `commit-ahead`: a committed offset passed an acknowledged record nobody had processed by then.
 * - `history-overflow`: the history dropped events, so nothing above can be trusted.
 */
export type GroupViolationKind =
  | 'unprocessed'
  | 'wrong-offset'
  | 'conflicting-offset'
  | 'unknown-record'
  | 'double-owner'
  | 'unowned-processing'
  | 'offset-gap'
  | 'out-of-order'
  | 'commit-ahead'
  | 'history-overflow';

export interface GroupViolation {
  readonly kind: GroupViolationKind;
  /** -1 when it is not about one partition. */
  readonly partition: number;
  readonly message: string;
}

/** A record the producer was told is at `offset` of `partition`. */
export interface AckedRecord {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

export interface GroupCheckInput {
  readonly acked: readonly AckedRecord[];
  /** Every value any producer tried to write, with its partition (acknowledged or not); without it, unknown values are not looked for. */
  readonly produced?: ReadonlyMap<string, number>;
  readonly history: GroupHistory | readonly GroupEvent[];
  /** Partitions of the topic: 0 … partitions-1. */
  readonly partitions: number;
  /** Where the last fault's window ends (e.g. when the producers stopped); default the last event. */
  readonly endMs?: number;
  /** Offsets are dense (no compaction, no transactions), so a member keeping a partition processes every offset. Default true. */
  readonly denseOffsets?: boolean;
  /** At most this many violations of one kind are listed. Default 20. */
  readonly maxPerKind?: number;
}

export interface PartitionRecovery {
  readonly partition: number;
  /**
   * From the fault's start until the partition was owned by a live member again: 0 if it never
   * stopped being owned; null if it was not owned again within the window.
   */
  readonly reownedMs: number | null;
  /**
   * From the fault's start until a live member processed an offset beyond the highest one
   * processed before the fault (new progress, not reprocessing); null if none within the window.
   */
  readonly resumedMs: number | null;
  /** Longest stretch within the window without any member processing a record of the partition. */
  readonly longestGapMs: number;
  /** Records processed in the window that some member had processed before (duplicates, counted where they happen). */
  readonly reprocessed: number;
}

export interface GroupFaultFigures {
  /** The fault's name, or 'baseline' for the time before the first fault. */
  readonly fault: string;
  readonly detail?: string;
  /** The window, ms since the history's first event: from the fault's start to the next one's (or endMs). */
  readonly fromMs: number;
  readonly toMs: number;
  /** Worst over the partitions; null if some partition was not owned again / did not resume in the window. */
  readonly reownedMs: number | null;
  readonly resumedMs: number | null;
  readonly longestGapMs: number;
  readonly reprocessed: number;
  readonly partitions: readonly PartitionRecovery[];
}

export interface GroupCheckStats {
  readonly acked: number;
  /** `processed` events, duplicates included. */
  readonly processed: number;
  /** Distinct (partition, offset) pairs processed. */
  readonly distinctProcessed: number;
  /** processed - distinctProcessed: records processed more than once (allowed: at least once). */
  readonly duplicates: number;
  readonly commits: number;
  readonly commitFailures: number;
  readonly members: number;
  readonly generations: number;
}

export interface GroupCheckResult {
  readonly ok: boolean;
  readonly violations: readonly GroupViolation[];
  readonly stats: GroupCheckStats;
  readonly faults: readonly GroupFaultFigures[];
  /** Wall-clock time of the first event; figures' fromMs/toMs count from it. */
  readonly originMs: number;
}

interface ProcessedRef {
  readonly member: string;
  readonly t: number;
  readonly value: string;
}

type Processed = Extract<GroupEvent, { type: 'processed' }>;

/**
 * Checks a consumer-group history against the producer's acknowledgements; pure. With commits
 * after processing, delivery is at least once: every acknowledged record must have been
 * processed, at its acknowledged offset, with its value; duplicates are counted, not failed.
 * It also checks what each member reported about itself: one owner per partition per
 * generation, records processed only while owned, no offset skipped while a partition is kept,
 * and no commit ahead of the processing. Per fault it measures how long the partitions were
 * without an owner and until processing made progress again.
 */
export function checkGroupHistory(input: GroupCheckInput): GroupCheckResult {
  const events = input.history instanceof GroupHistory ? input.history.events : input.history;
  const dropped = input.history instanceof GroupHistory ? input.history.dropped : 0;
  const dense = input.denseOffsets ?? true;
  const maxPerKind = input.maxPerKind ?? 20;
  const violations: GroupViolation[] = [];
  const perKind = new Map<GroupViolationKind, number>();
  const report = (kind: GroupViolationKind, partition: number, message: string): void => {
    const n = (perKind.get(kind) ?? 0) + 1;
    perKind.set(kind, n);
    if (n <= maxPerKind) violations.push({ kind, partition, message });
  };
  if (dropped > 0) report('history-overflow', -1, `the history was full and dropped ${dropped} event(s)`);

  checkMembers(events, dense, report);

  // What was processed where, first occurrence per offset.
  const processedAt = new Map<number, Map<number, ProcessedRef>>();
  const offsetsOfValue = new Map<string, { partition: number; offset: number }[]>();
  let processedCount = 0;
  let commits = 0;
  let commitFailures = 0;
  const members = new Set<string>();
  const generations = new Set<number>();
  for (const e of events) {
    if ('member' in e) members.add(e.member);
    if (e.type === 'assigned') generations.add(e.generation);
    if (e.type === 'committed') commits++;
    if (e.type === 'commit-failed') commitFailures++;
    if (e.type !== 'processed') continue;
    processedCount++;
    let byOffset = processedAt.get(e.partition);
    if (byOffset === undefined) processedAt.set(e.partition, (byOffset = new Map()));
    const first = byOffset.get(e.offset);
    if (first === undefined) {
      byOffset.set(e.offset, { member: e.member, t: e.t, value: e.value });
      const list = offsetsOfValue.get(e.value) ?? [];
      list.push({ partition: e.partition, offset: e.offset });
      offsetsOfValue.set(e.value, list);
    } else {
      if (first.value !== e.value) {
        report('conflicting-offset', e.partition, `partition ${e.partition} offset ${e.offset}: ${first.member} processed "${first.value}", ${e.member} processed "${e.value}"`);
      }
      if (e.t < first.t) byOffset.set(e.offset, { ...first, t: e.t });
    }
    const producedTo = input.produced?.get(e.value);
    if (input.produced !== undefined && producedTo !== e.partition) {
      report(
        'unknown-record',
        e.partition,
        producedTo === undefined
          ? `${e.member} processed "${e.value}" at partition ${e.partition} offset ${e.offset}, which nobody produced`
          : `${e.member} processed "${e.value}" at partition ${e.partition} offset ${e.offset}, but it was produced to partition ${producedTo}`,
      );
    }
  }

  // Every acknowledgement against what was processed.
  const ackedAt = new Map<number, Map<number, string>>();
  for (const ack of input.acked) {
    let byOffset = ackedAt.get(ack.partition);
    if (byOffset === undefined) ackedAt.set(ack.partition, (byOffset = new Map()));
    byOffset.set(ack.offset, ack.value);
    const there = processedAt.get(ack.partition)?.get(ack.offset);
    if (there?.value === ack.value) continue;
    if (there !== undefined) {
      report('conflicting-offset', ack.partition, `"${ack.value}" was acknowledged at partition ${ack.partition} offset ${ack.offset}, where ${there.member} processed "${there.value}"`);
      continue;
    }
    const elsewhere = offsetsOfValue.get(ack.value);
    if (elsewhere !== undefined) {
      report(
        'wrong-offset',
        ack.partition,
        `"${ack.value}" was acknowledged at partition ${ack.partition} offset ${ack.offset} but processed only at ${elsewhere.map((o) => `partition ${o.partition} offset ${o.offset}`).join(', ')}`,
      );
    } else {
      report('unprocessed', ack.partition, `"${ack.value}" was acknowledged at partition ${ack.partition} offset ${ack.offset} and no member processed it`);
    }
  }

  checkCommits(events, ackedAt, processedAt, report);

  for (const [kind, n] of perKind) {
    if (n > maxPerKind) violations.push({ kind, partition: -1, message: `… and ${n - maxPerKind} more ${kind} violation(s)` });
  }

  let distinctProcessed = 0;
  for (const byOffset of processedAt.values()) distinctProcessed += byOffset.size;
  const originMs = events.reduce((min, e) => Math.min(min, e.t), Number.POSITIVE_INFINITY);
  return {
    ok: violations.length === 0,
    violations,
    stats: {
      acked: input.acked.length,
      processed: processedCount,
      distinctProcessed,
      duplicates: processedCount - distinctProcessed,
      commits,
      commitFailures,
      members: members.size,
      generations: generations.size,
    },
    faults: faultFigures(events, input.partitions, input.endMs, Number.isFinite(originMs) ? originMs : 0),
    originMs: Number.isFinite(originMs) ? originMs : 0,
  };
}

/** Each member's own story, in the order it told it: ownership per generation, processing only of what it owns, no skips while it keeps a partition. */
function checkMembers(events: readonly GroupEvent[], dense: boolean, report: (kind: GroupViolationKind, partition: number, message: string) => void): void {
  const owned = new Map<string, Set<number>>();
  /** member → partition → last offset processed since it got the partition. */
  const lastOffset = new Map<string, Map<number, number>>();
  /** generation → partition → the first member that owned it in that generation. */
  const ownerIn = new Map<number, Map<number, string>>();
  const reportedDouble = new Set<string>();
  const give = (member: string, partitions: readonly number[]): void => {
    for (const p of partitions) {
      owned.get(member)?.delete(p);
      lastOffset.get(member)?.delete(p);
    }
  };
  for (const e of events) {
    switch (e.type) {
      case 'assigned': {
        const before = owned.get(e.member) ?? new Set<number>();
        const offsets = lastOffset.get(e.member) ?? new Map<number, number>();
        for (const p of before) if (!e.owned.includes(p)) offsets.delete(p);
        owned.set(e.member, new Set(e.owned));
        lastOffset.set(e.member, offsets);
        let owners = ownerIn.get(e.generation);
        if (owners === undefined) ownerIn.set(e.generation, (owners = new Map()));
        for (const p of e.owned) {
          const other = owners.get(p);
          if (other === undefined) owners.set(p, e.member);
          else if (other !== e.member && !reportedDouble.has(`${e.generation}/${p}`)) {
            reportedDouble.add(`${e.generation}/${p}`);
            report('double-owner', p, `partition ${p} is owned by both ${other} and ${e.member} in generation ${e.generation}`);
          }
        }
        break;
      }
      case 'revoked':
      case 'lost':
        give(e.member, e.partitions);
        break;
      case 'member-exit':
        owned.delete(e.member);
        lastOffset.delete(e.member);
        break;
      case 'processed': {
        if (owned.get(e.member)?.has(e.partition) !== true) {
          report('unowned-processing', e.partition, `${e.member} processed partition ${e.partition} offset ${e.offset} while it did not own the partition`);
        }
        const offsets = lastOffset.get(e.member) ?? new Map<number, number>();
        lastOffset.set(e.member, offsets);
        const previous = offsets.get(e.partition);
        if (previous !== undefined && e.offset <= previous) {
          report('out-of-order', e.partition, `${e.member} processed partition ${e.partition} offset ${e.offset} after offset ${previous}, without giving the partition up in between`);
        } else if (dense && previous !== undefined && e.offset !== previous + 1) {
          report('offset-gap', e.partition, `${e.member} processed partition ${e.partition} offset ${e.offset} right after offset ${previous}: ${e.offset - previous - 1} offset(s) skipped`);
        }
        offsets.set(e.partition, e.offset);
        break;
      }
      default:
        break;
    }
  }
}

/**
 * A committed offset says every record below it is done: each acknowledged record below it
 * must have been processed (by any member) no later than the commit was confirmed.
 */
function checkCommits(
  events: readonly GroupEvent[],
  ackedAt: ReadonlyMap<number, ReadonlyMap<number, string>>,
  processedAt: ReadonlyMap<number, ReadonlyMap<number, ProcessedRef>>,
  report: (kind: GroupViolationKind, partition: number, message: string) => void,
): void {
  // Per partition: acknowledged offsets in order, and the latest "first processed" time among the first i of them.
  const index = new Map<number, { offsets: number[]; latestFirstProcessed: number[] }>();
  for (const [partition, byOffset] of ackedAt) {
    const offsets = [...byOffset.keys()].sort((a, b) => a - b);
    const latestFirstProcessed: number[] = [Number.NEGATIVE_INFINITY];
    for (const offset of offsets) {
      const t = processedAt.get(partition)?.get(offset)?.t ?? Number.POSITIVE_INFINITY;
      latestFirstProcessed.push(Math.max(latestFirstProcessed.at(-1)!, t));
    }
    index.set(partition, { offsets, latestFirstProcessed });
  }
  const reported = new Set<number>();
  for (const e of events) {
    if (e.type !== 'committed') continue;
    for (const { partition, offset } of e.offsets) {
      const entry = index.get(partition);
      if (entry === undefined || reported.has(partition)) continue;
      const below = countBelow(entry.offsets, offset);
      if (entry.latestFirstProcessed[below]! <= e.t) continue;
      // The first acknowledged offset below the commit that was not processed by then.
      const culprit = entry.offsets.slice(0, below).find((o) => (processedAt.get(partition)?.get(o)?.t ?? Number.POSITIVE_INFINITY) > e.t)!;
      const later = processedAt.get(partition)?.get(culprit);
      reported.add(partition);
      report(
        'commit-ahead',
        partition,
        `${e.member} committed offset ${offset} of partition ${partition} before acknowledged offset ${culprit} was processed${later === undefined ? ' (it never was)' : ` (${later.member} processed it ${later.t - e.t} ms later)`}`,
      );
    }
  }
}

/** How many of the sorted `offsets` are below `limit`. */
function countBelow(offsets: readonly number[], limit: number): number {
  let lo = 0;
  let hi = offsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (offsets[mid]! < limit) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface OwnershipChange {
  readonly t: number;
  readonly partition: number;
  readonly owned: boolean;
}

/** When each partition gained or lost its last live owner, in time order. */
function ownershipChanges(sorted: readonly GroupEvent[], partitions: number): OwnershipChange[] {
  const ownedBy = new Map<string, Set<number>>();
  const owners = Array.from({ length: partitions }, () => new Set<string>());
  const changes: OwnershipChange[] = [];
  const set = (t: number, member: string, next: ReadonlySet<number>): void => {
    const before = ownedBy.get(member) ?? new Set<number>();
    for (let p = 0; p < partitions; p++) {
      const had = before.has(p);
      const has = next.has(p);
      if (had === has) continue;
      const wasOwned = owners[p]!.size > 0;
      if (has) owners[p]!.add(member);
      else owners[p]!.delete(member);
      const isOwned = owners[p]!.size > 0;
      if (wasOwned !== isOwned) changes.push({ t, partition: p, owned: isOwned });
    }
    ownedBy.set(member, new Set(next));
  };
  for (const e of sorted) {
    if (e.type === 'assigned') set(e.t, e.member, new Set(e.owned));
    else if (e.type === 'revoked' || e.type === 'lost') {
      const next = new Set(ownedBy.get(e.member) ?? []);
      for (const p of e.partitions) next.delete(p);
      set(e.t, e.member, next);
    } else if (e.type === 'member-exit') set(e.t, e.member, new Set());
  }
  return changes;
}

/** Per fault window (and the baseline before the first): ownership gaps, progress, processing gaps, reprocessing. */
function faultFigures(events: readonly GroupEvent[], partitions: number, endMs: number | undefined, originMs: number): GroupFaultFigures[] {
  const sorted = [...events].sort((a, b) => a.t - b.t);
  const processed = sorted.filter((e): e is Processed => e.type === 'processed');
  if (processed.length === 0) return [];
  const end = endMs ?? sorted.at(-1)!.t;
  const starts = sorted.filter((e): e is Extract<GroupEvent, { type: 'fault-start' }> => e.type === 'fault-start');
  const windows: { fault: string; detail?: string; from: number; to: number }[] = [{ fault: 'baseline', from: processed[0]!.t, to: starts[0]?.t ?? end }];
  starts.forEach((s, i) => {
    const to = Math.max(s.t, i + 1 < starts.length ? starts[i + 1]!.t : end);
    windows.push(s.detail === undefined ? { fault: s.name, from: s.t, to } : { fault: s.name, detail: s.detail, from: s.t, to });
  });
  const changes = ownershipChanges(sorted, partitions);
  const byPartition = Array.from({ length: partitions }, () => [] as Processed[]);
  for (const e of processed) byPartition[e.partition]?.push(e);
  // Processings of an offset some member had processed earlier: each duplicate counts in the window it happened in.
  const repeats = new Set<Processed>();
  const seen = new Map<number, Set<number>>();
  for (const e of processed) {
    const offsets = seen.get(e.partition) ?? new Set<number>();
    seen.set(e.partition, offsets);
    if (offsets.has(e.offset)) repeats.add(e);
    offsets.add(e.offset);
  }

  return windows.map((w) => {
    const perPartition: PartitionRecovery[] = [];
    for (let p = 0; p < partitions; p++) {
      const list = byPartition[p]!;
      // Ownership: owned at the window's start? When did it last become owned again within the window?
      let owned = false;
      for (const c of changes) {
        if (c.t > w.from) break;
        if (c.partition === p) owned = c.owned;
      }
      let reownedAt: number | null = owned ? w.from : null;
      for (const c of changes) {
        if (c.t <= w.from || c.partition !== p) continue;
        if (c.t > w.to) break;
        reownedAt = c.owned ? c.t : null;
      }
      // Progress: the first offset beyond everything processed before the window.
      let highestBefore = -1;
      for (const e of list) {
        if (e.t >= w.from) break;
        highestBefore = Math.max(highestBefore, e.offset);
      }
      let resumedAt: number | null = null;
      let reprocessed = 0;
      let previous = w.from;
      let longestGap = 0;
      for (const e of list) {
        if (e.t < w.from) continue;
        if (e.t > w.to) break;
        if (resumedAt === null && e.offset > highestBefore) resumedAt = e.t;
        // Windows meet at their edges: an event at the very edge belongs to the next one.
        if (repeats.has(e) && (e.t < w.to || w === windows.at(-1))) reprocessed++;
        longestGap = Math.max(longestGap, e.t - previous);
        previous = e.t;
      }
      longestGap = Math.max(longestGap, w.to - previous);
      perPartition.push({
        partition: p,
        reownedMs: reownedAt === null ? null : Math.round(reownedAt - w.from),
        resumedMs: resumedAt === null ? null : Math.round(resumedAt - w.from),
        longestGapMs: Math.round(longestGap),
        reprocessed,
      });
    }
    const worst = (pick: (r: PartitionRecovery) => number | null): number | null =>
      perPartition.some((r) => pick(r) === null) ? null : Math.max(0, ...perPartition.map((r) => pick(r)!));
    const figures: GroupFaultFigures = {
      fault: w.fault,
      fromMs: Math.round(w.from - originMs),
      toMs: Math.round(w.to - originMs),
      reownedMs: worst((r) => r.reownedMs),
      resumedMs: worst((r) => r.resumedMs),
      longestGapMs: Math.max(0, ...perPartition.map((r) => r.longestGapMs)),
      reprocessed: perPartition.reduce((sum, r) => sum + r.reprocessed, 0),
      partitions: perPartition,
    };
    return w.detail === undefined ? figures : { ...figures, detail: w.detail };
  });
}

/** One partition a member kept through a window (owned at its start and at its end). */
export interface KeptPartition {
  readonly member: string;
  readonly partition: number;
  /** The member reported giving it up (revoked or lost) within the window, even if it got it back. */
  readonly givenUp: boolean;
  /** Records of it the member processed within the window. */
  readonly processed: number;
  /** Longest stretch within the window (edges included) without the member processing one of its records. */
  readonly longestGapMs: number;
}

/**
 * The partitions each member kept through [fromMs, toMs] (wall-clock), by the member's own
 * reports: owned at both ends, member alive throughout. For the cooperative protocol's promise
 * that partitions which stay are consumed through a rebalance.
 */
export function keptPartitions(history: GroupHistory | readonly GroupEvent[], fromMs: number, toMs: number): KeptPartition[] {
  const events = history instanceof GroupHistory ? history.events : history;
  const ownedAt = (member: string, atMs: number): Set<number> | undefined => {
    let owned: Set<number> | undefined;
    for (const e of events) {
      if (!('member' in e) || e.member !== member || e.t > atMs) continue;
      if (e.type === 'assigned') owned = new Set(e.owned);
      else if ((e.type === 'revoked' || e.type === 'lost') && owned !== undefined) for (const p of e.partitions) owned.delete(p);
      else if (e.type === 'member-exit') owned = undefined;
    }
    return owned;
  };
  const members = [...new Set(events.flatMap((e) => ('member' in e ? [e.member] : [])))];
  const result: KeptPartition[] = [];
  for (const member of members) {
    const exited = events.some((e) => e.type === 'member-exit' && e.member === member && e.t <= toMs);
    const atStart = ownedAt(member, fromMs);
    const atEnd = ownedAt(member, toMs);
    if (exited || atStart === undefined || atEnd === undefined) continue;
    const mine = events.filter((e) => 'member' in e && e.member === member && e.t >= fromMs && e.t <= toMs);
    for (const partition of [...atStart].filter((p) => atEnd.has(p)).sort((a, b) => a - b)) {
      const givenUp = mine.some((e) => (e.type === 'revoked' || e.type === 'lost') && e.partitions.includes(partition));
      const times = mine
        .filter((e): e is Processed => e.type === 'processed' && e.partition === partition)
        .map((e) => e.t)
        .sort((a, b) => a - b);
      let previous = fromMs;
      let longest = 0;
      for (const t of [...times, toMs]) {
        longest = Math.max(longest, t - previous);
        previous = t;
      }
      result.push({ member, partition, givenUp, processed: times.length, longestGapMs: Math.round(longest) });
    }
  }
  return result;
}

/** A human-readable report: stats, violations, and the figures per fault. */
export function formatGroupCheckResult(result: GroupCheckResult): string {
  const s = result.stats;
  const lines = [
    `group: ${s.acked} acknowledged; ${s.processed} processed (${s.distinctProcessed} distinct, ${s.duplicates} duplicate(s)); ` +
      `${s.commits} commits (${s.commitFailures} failed); ${s.members} members; ${s.generations} generations`,
    result.ok ? 'group violations: none' : `group violations (${result.violations.length}):`,
    ...result.violations.map((v) => `  [${v.kind}] ${v.message}`),
    'per fault: reowned = until every partition had a live owner again; resumed = until every partition made progress past what was processed before; gap = longest stretch without processing; reprocessed = records processed again in the window (ms):',
  ];
  for (const f of result.faults) {
    const slowest = (pick: (r: PartitionRecovery) => number | null): string => {
      const worst = [...f.partitions].sort((a, b) => (pick(b) ?? Number.POSITIVE_INFINITY) - (pick(a) ?? Number.POSITIVE_INFINITY))[0];
      return worst === undefined ? '-' : `${pick(worst) ?? 'never'} (p${worst.partition})`;
    };
    lines.push(
      `  ${f.fault}${f.detail ? ` [${f.detail}]` : ''} @${f.fromMs}–${f.toMs}: reowned ${slowest((r) => r.reownedMs)}, resumed ${slowest((r) => r.resumedMs)}, ` +
        `gap ${slowest((r) => r.longestGapMs)}, reprocessed ${f.reprocessed}`,
    );
  }
  return lines.join('\n');
}
