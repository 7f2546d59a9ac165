import type { HistoryEvent } from './history.js';
import { History } from './history.js';

/**
 * What the checker fails a history on:
 * - `lost-ack`: a record acknowledged with acks=all is not in the final read.
 * - `wrong-offset`: a record acknowledged at one offset was read at another.
 * - `conflicting-offset`: two different records at one offset of one partition, as seen by any readers.
 * - `vanished-read`: a reader saw a record at an offset the final read does not reach (it read above
 *   the high watermark, or the log lost it later).
 * - `out-of-order`: a reader saw a partition's offsets go backwards or repeat.
 * - `offset-gap`: a reader skipped offsets (they are dense), or the final read did not start at 0.
 * - `unknown-record`: a reader saw a value nobody produced, or in a partition it was not produced to.
 */
export type ViolationKind = 'lost-ack' | 'wrong-offset' | 'conflicting-offset' | 'vanished-read' | 'out-of-order' | 'offset-gap' | 'unknown-record';

export interface RecordRef {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
  /** Who saw it ('ack' for the producer's acknowledgement). */
  readonly seenBy: string;
  /** When, in history milliseconds. */
  readonly t: number;
}

export interface Violation {
  readonly kind: ViolationKind;
  readonly partition: number;
  readonly message: string;
  /** The offending records. */
  readonly records: readonly RecordRef[];
}

/** The longest stretch without an acknowledged produce on one partition, within one fault's window. */
export interface PartitionAvailability {
  readonly partition: number;
  /** Longest time between two acknowledgements (or the window's edges and one), ms. */
  readonly longestGapMs: number;
  /** When that gap began, in history ms. */
  readonly gapStartMs: number;
  /** Acknowledgements in the window. */
  readonly acked: number;
  /** From the fault's end to the first acknowledgement after it; null when none came. */
  readonly recoveryMs: number | null;
}

export interface FaultAvailability {
  /** The fault's name, or 'baseline' for the time before the first fault. */
  readonly fault: string;
  readonly detail?: string;
  /** The window: from the fault's start to the next fault's start or the end of the workload. */
  readonly fromMs: number;
  readonly toMs: number;
  /** When the fault healed, if it did within the window. */
  readonly endedMs: number | null;
  readonly partitions: readonly PartitionAvailability[];
}

export interface HistoryStats {
  readonly invoked: number;
  readonly acked: number;
  readonly failed: number;
  readonly unknown: number;
  /** Produces still without an outcome when the history ended (counted as unknown). */
  readonly pending: number;
  /** Failed or unknown produces that are in the final read anyway (allowed: no idempotence). */
  readonly unackedPresent: number;
  /** Extra copies of a value in the final read, from retries of a request that had in fact succeeded (allowed). */
  readonly duplicates: number;
  /** Records read, per reader. */
  readonly readsByReader: Readonly<Record<string, number>>;
  /** Records in the final read, per partition. */
  readonly finalLength: Readonly<Record<number, number>>;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly availability: readonly FaultAvailability[];
  readonly stats: HistoryStats;
}

export interface CheckOptions {
  /** The reader whose reads are the final, complete read of every partition from the beginning. Default 'final'. */
  readonly finalReader?: string;
  /** Offsets are dense and logs start at 0 (no retention, no compaction). Default true. */
  readonly denseOffsets?: boolean;
  /** At most this many violations of one kind are listed; the message of the last says how many more. Default 20. */
  readonly maxPerKind?: number;
}

interface Attempt {
  readonly partition: number;
  readonly invokeT: number;
  outcome: 'pending' | 'ok' | 'fail' | 'unknown';
  offset?: number;
  okT?: number;
}

/**
 * Checks a fault test's history; pure (it reads the events and nothing else). Failed and
 * unknown produces may or may not be in the log: without an idempotent producer a retry of a
 * request that did succeed can leave a value twice, and a request refused after the leader
 * appended may still be replicated. Everything acknowledged must be in the final read, at
 * its acknowledged offset, and every read must agree with the final read.
 */
export function checkHistory(history: History | readonly HistoryEvent[], options: CheckOptions = {}): CheckResult {
  const events = history instanceof History ? history.events : history;
  const finalReader = options.finalReader ?? 'final';
  const dense = options.denseOffsets ?? true;
  const maxPerKind = options.maxPerKind ?? 20;

  const attempts = new Map<string, Attempt>();
  /** partition → offset → value as the final read saw it. */
  const finalLog = new Map<number, Map<number, RecordRef>>();
  /** partition → value → offsets in the final read. */
  const finalOffsetsOf = new Map<number, Map<string, number[]>>();
  /** partition → offset → first record seen there by anyone (reader or ack). */
  const firstSeen = new Map<number, Map<number, RecordRef>>();
  const reads: RecordRef[] = [];
  const readsByReader: Record<string, number> = {};
  const violations: Violation[] = [];
  const perKind = new Map<ViolationKind, number>();
  const report = (v: Violation): void => {
    const n = (perKind.get(v.kind) ?? 0) + 1;
    perKind.set(v.kind, n);
    if (n <= maxPerKind) violations.push(v);
  };
  const conflictReported = new Set<string>();
  const noteSeen = (ref: RecordRef): void => {
    let byOffset = firstSeen.get(ref.partition);
    if (byOffset === undefined) firstSeen.set(ref.partition, (byOffset = new Map()));
    const first = byOffset.get(ref.offset);
    if (first === undefined) {
      byOffset.set(ref.offset, ref);
      return;
    }
    const key = `${ref.partition}/${ref.offset}/${ref.value}`;
    if (first.value !== ref.value && !conflictReported.has(key)) {
      conflictReported.add(key);
      report({
        kind: 'conflicting-offset',
        partition: ref.partition,
        message: `partition ${ref.partition} offset ${ref.offset}: ${first.seenBy} saw "${first.value}", ${ref.seenBy} saw "${ref.value}"`,
        records: [first, ref],
      });
    }
  };
  /** reader → partition → last offset read. */
  const lastOffset = new Map<string, Map<number, RecordRef>>();
  let workloadEndT: number | undefined;
  let lastT = 0;

  for (const e of events) {
    lastT = e.t;
    switch (e.type) {
      case 'produce-invoke':
        attempts.set(e.value, { partition: e.partition, invokeT: e.t, outcome: 'pending' });
        break;
      case 'produce-ok': {
        const a = attempts.get(e.value);
        if (a !== undefined) {
          a.outcome = 'ok';
          a.offset = e.offset;
          a.okT = e.t;
        }
        break;
      }
      case 'produce-fail':
      case 'produce-unknown': {
        const a = attempts.get(e.value);
        if (a !== undefined) a.outcome = e.type === 'produce-fail' ? 'fail' : 'unknown';
        break;
      }
      case 'consume-read': {
        const ref: RecordRef = { partition: e.partition, offset: e.offset, value: e.value, seenBy: e.reader, t: e.t };
        readsByReader[e.reader] = (readsByReader[e.reader] ?? 0) + 1;
        let byPartition = lastOffset.get(e.reader);
        if (byPartition === undefined) lastOffset.set(e.reader, (byPartition = new Map()));
        const previous = byPartition.get(e.partition);
        if (previous !== undefined && e.offset <= previous.offset) {
          report({
            kind: 'out-of-order',
            partition: e.partition,
            message: `${e.reader} read partition ${e.partition} offset ${e.offset} after offset ${previous.offset}`,
            records: [previous, ref],
          });
        } else if (dense && previous !== undefined && e.offset !== previous.offset + 1) {
          report({
            kind: 'offset-gap',
            partition: e.partition,
            message: `${e.reader} read partition ${e.partition} offset ${e.offset} right after offset ${previous.offset}: ${e.offset - previous.offset - 1} offset(s) skipped`,
            records: [previous, ref],
          });
        } else if (dense && previous === undefined && e.reader === finalReader && e.offset !== 0) {
          report({
            kind: 'offset-gap',
            partition: e.partition,
            message: `the final read of partition ${e.partition} began at offset ${e.offset}, not 0`,
            records: [ref],
          });
        }
        byPartition.set(e.partition, ref);
        if (e.reader === finalReader) {
          let log = finalLog.get(e.partition);
          if (log === undefined) finalLog.set(e.partition, (log = new Map()));
          log.set(e.offset, ref);
          let offsets = finalOffsetsOf.get(e.partition);
          if (offsets === undefined) finalOffsetsOf.set(e.partition, (offsets = new Map()));
          offsets.set(e.value, [...(offsets.get(e.value) ?? []), e.offset]);
        }
        reads.push(ref);
        noteSeen(ref);
        break;
      }
      case 'workload-end':
        workloadEndT ??= e.t;
        break;
      case 'fault-start':
      case 'fault-end':
      case 'note':
        break;
    }
  }

  // Reads against the producers' attempts and the final read.
  for (const ref of reads) {
    const attempt = attempts.get(ref.value);
    if (attempt === undefined || attempt.partition !== ref.partition) {
      report({
        kind: 'unknown-record',
        partition: ref.partition,
        message:
          attempt === undefined
            ? `${ref.seenBy} read "${ref.value}" at partition ${ref.partition} offset ${ref.offset}, which nobody produced`
            : `${ref.seenBy} read "${ref.value}" at partition ${ref.partition} offset ${ref.offset}, but it was produced to partition ${attempt.partition}`,
        records: [ref],
      });
      continue;
    }
    if (ref.seenBy !== finalReader && attempt.outcome === 'ok' && attempt.offset !== ref.offset) {
      // The final read is checked against acknowledgements below. The value may legitimately
      // be in the log twice (a retried request that had succeeded); what matters is
      // that the final read has this value at both offsets: the acknowledged one (checked
      // below) and this one.
      const there = finalLog.get(ref.partition)?.get(ref.offset);
      if (there === undefined || there.value !== ref.value) {
        report({
          kind: 'wrong-offset',
          partition: ref.partition,
          message: `"${ref.value}" was acknowledged at partition ${ref.partition} offset ${attempt.offset}, ${ref.seenBy} read it at offset ${ref.offset}`,
          records: [{ partition: ref.partition, offset: attempt.offset!, value: ref.value, seenBy: 'ack', t: attempt.okT! }, ref],
        });
      }
    }
    if (ref.seenBy !== finalReader) {
      const final = finalLog.get(ref.partition)?.get(ref.offset);
      // A different value there is a conflicting-offset violation, reported when seen.
      if (final === undefined) {
        report({
          kind: 'vanished-read',
          partition: ref.partition,
          message: `${ref.seenBy} read "${ref.value}" at partition ${ref.partition} offset ${ref.offset}, which the final read (${finalLog.get(ref.partition)?.size ?? 0} records) does not have`,
          records: [ref],
        });
      }
    }
  }

  // Every acknowledgement against the final read.
  let acked = 0;
  let failed = 0;
  let unknown = 0;
  let pending = 0;
  let unackedPresent = 0;
  for (const [value, attempt] of attempts) {
    const present = finalOffsetsOf.get(attempt.partition)?.get(value);
    if (attempt.outcome === 'ok') {
      acked++;
      const ack: RecordRef = { partition: attempt.partition, offset: attempt.offset!, value, seenBy: 'ack', t: attempt.okT! };
      noteSeen(ack);
      const atOffset = finalLog.get(attempt.partition)?.get(attempt.offset!);
      if (present === undefined) {
        report({
          kind: 'lost-ack',
          partition: attempt.partition,
          message: `"${value}" was acknowledged at partition ${attempt.partition} offset ${attempt.offset} and is not in the final read${atOffset ? ` (offset ${attempt.offset} holds "${atOffset.value}")` : ''}`,
          records: atOffset ? [ack, atOffset] : [ack],
        });
      } else if (atOffset?.value !== value) {
        report({
          kind: 'wrong-offset',
          partition: attempt.partition,
          message: `"${value}" was acknowledged at partition ${attempt.partition} offset ${attempt.offset}, the final read has it at offset(s) ${present.join(', ')}`,
          records: [ack, ...present.map((o) => finalLog.get(attempt.partition)!.get(o)!)],
        });
      }
    } else {
      if (attempt.outcome === 'fail') failed++;
      else if (attempt.outcome === 'unknown') unknown++;
      else pending++;
      if (present !== undefined) unackedPresent++;
    }
  }
  let duplicates = 0;
  for (const offsets of finalOffsetsOf.values()) for (const list of offsets.values()) duplicates += list.length - 1;

  for (const [kind, n] of perKind) {
    if (n > maxPerKind) violations.push({ kind, partition: -1, message: `… and ${n - maxPerKind} more ${kind} violation(s)`, records: [] });
  }

  const finalLength: Record<number, number> = {};
  for (const [partition, log] of finalLog) finalLength[partition] = log.size;

  return {
    ok: violations.length === 0,
    violations,
    availability: availabilityOf(events, attempts, workloadEndT ?? lastT),
    stats: { invoked: attempts.size, acked, failed, unknown, pending, unackedPresent, duplicates, readsByReader, finalLength },
  };
}

/**
 * Per fault window (from its start to the next fault's start, or the end of the workload)
 * and partition: the longest stretch without an acknowledgement. A 'baseline' window covers
 * the time before the first fault.
 */
function availabilityOf(events: readonly HistoryEvent[], attempts: ReadonlyMap<string, Attempt>, endT: number): FaultAvailability[] {
  const partitions = [...new Set([...attempts.values()].map((a) => a.partition))].sort((a, b) => a - b);
  const okTimes = new Map<number, number[]>(partitions.map((p) => [p, []]));
  for (const a of attempts.values()) if (a.outcome === 'ok') okTimes.get(a.partition)!.push(a.okT!);
  for (const times of okTimes.values()) times.sort((a, b) => a - b);

  const firstInvoke = Math.min(...[...attempts.values()].map((a) => a.invokeT));
  const windows: { fault: string; detail?: string; fromMs: number; endedMs: number | null }[] = [];
  const open = new Map<string, number>();
  for (const e of events) {
    if (e.type === 'fault-start') {
      open.set(e.name, windows.length);
      windows.push(e.detail === undefined ? { fault: e.name, fromMs: e.t, endedMs: null } : { fault: e.name, detail: e.detail, fromMs: e.t, endedMs: null });
    } else if (e.type === 'fault-end') {
      const index = open.get(e.name);
      if (index !== undefined) {
        windows[index]!.endedMs = e.t;
        open.delete(e.name);
      }
    }
  }
  if (attempts.size === 0) return [];
  const baselineEnd = windows[0]?.fromMs ?? endT;
  const all = [{ fault: 'baseline', fromMs: firstInvoke, endedMs: null as number | null }, ...windows];
  const result: FaultAvailability[] = [];
  for (let i = 0; i < all.length; i++) {
    const w = all[i]!;
    const toMs = i === 0 ? baselineEnd : Math.max(w.fromMs, i + 1 < all.length ? all[i + 1]!.fromMs : endT);
    const perPartition: PartitionAvailability[] = partitions.map((partition) => {
      const times = okTimes.get(partition)!.filter((t) => t >= w.fromMs && t <= toMs);
      let previous = w.fromMs;
      let longest = 0;
      let gapStart = w.fromMs;
      for (const t of [...times, toMs]) {
        if (t - previous > longest) {
          longest = t - previous;
          gapStart = previous;
        }
        previous = t;
      }
      const after = w.endedMs === null ? undefined : okTimes.get(partition)!.find((t) => t >= w.endedMs!);
      return {
        partition,
        longestGapMs: Math.round(longest),
        gapStartMs: Math.round(gapStart),
        acked: times.length,
        recoveryMs: after === undefined || w.endedMs === null ? null : Math.round(after - w.endedMs),
      };
    });
    const entry: FaultAvailability = { fault: w.fault, fromMs: Math.round(w.fromMs), toMs: Math.round(toMs), endedMs: w.endedMs === null ? null : Math.round(w.endedMs), partitions: perPartition };
    result.push('detail' in w && w.detail !== undefined ? { ...entry, detail: w.detail } : entry);
  }
  return result;
}

/** A human-readable report: stats, violations, and the availability table. */
export function formatCheckResult(result: CheckResult): string {
  const lines: string[] = [];
  const s = result.stats;
  lines.push(
    `produces: ${s.invoked} invoked, ${s.acked} acknowledged, ${s.failed} failed, ${s.unknown} unknown, ${s.pending} pending; ` +
      `${s.unackedPresent} unacknowledged present, ${s.duplicates} duplicate(s) in the final read`,
  );
  lines.push(`reads: ${Object.entries(s.readsByReader).map(([r, n]) => `${r} ${n}`).join(', ')}; final log lengths: ${Object.entries(s.finalLength).map(([p, n]) => `p${p}=${n}`).join(' ')}`);
  lines.push(result.ok ? 'violations: none' : `violations (${result.violations.length}):`);
  for (const v of result.violations) lines.push(`  [${v.kind}] ${v.message}`);
  lines.push('availability (longest gap without an acknowledged produce, ms; recovery = first ack after the fault ended):');
  for (const w of result.availability) {
    const parts = w.partitions.map((p) => `p${p.partition} ${p.longestGapMs}${p.recoveryMs === null ? '' : ` (rec ${p.recoveryMs})`}`).join(', ');
    lines.push(`  ${w.fault}${w.detail ? ` [${w.detail}]` : ''} @${w.fromMs}–${w.toMs}: ${parts}`);
  }
  return lines.join('\n');
}
