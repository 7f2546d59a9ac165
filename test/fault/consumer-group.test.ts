import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '@rivulet/common';
import { RivuletClient } from '@rivulet/client';
import { groupPartition } from '@rivulet/group';
import {
  GroupConsumerProcess,
  GroupHistory,
  History,
  LocalCluster,
  checkGroupHistory,
  checkHistory,
  formatCheckResult,
  formatGroupCheckResult,
  keptPartitions,
  waitFor,
  type CheckResult,
  type GroupCheckResult,
  type KeptPartition,
} from '@rivulet/testkit';
import { sleep, waitHealthy, type FaultContext } from './faults.js';
import { FAULT_DURATION_MS, FAULT_SEED, RESULTS_DIR, scenarioSeed } from './scenario.js';
import { Workload } from './workload.js';

// A consumer group of real processes (GroupConsumerProcess: the @rivulet/client Consumer,
// cooperative-sticky, committing what it processed every 250 ms) over a 12-partition topic on
// 3 controllers and 3 brokers, while a producer writes with acks=all throughout. One round:
//   1. kill -9 a (seeded) member: its partitions must move to the others within the session
//      timeout plus a margin;
//   2. a new member joins (cooperative): the members keep consuming the partitions they keep —
//      none is revoked, and how long they pause is measured;
//   3. kill -9 the broker coordinating the group (leader of its __consumer_offsets partition),
//      restarted 5 s later: the group goes on, on every partition, from the offsets it committed.
// Short mode runs one round after the group of three settled; long mode (FAULT_DURATION_MS)
// repeats rounds. Then the producer stops, the members drain and stop, and the checkers run:
// every acknowledged record processed at least once at its offset, none skipped, no commit
// ahead of the processing, one owner per partition per generation (checkGroupHistory), and the
// log itself (checkHistory on a final read).

const NAME = 'consumer-group';
const TOPIC = 'group-fault';
const GROUP_ID = 'fault-processors';
const PARTITIONS = 12;
const OFFSETS_PARTITIONS = 3;
const SESSION_TIMEOUT_MS = 3000;
const HEARTBEAT_INTERVAL_MS = 1000;
const COMMIT_INTERVAL_MS = 250;
/** After the session timeout: the coordinator's expiry check, one rebalance (join, sync), the report — with slack for 2 shared cores. */
const REASSIGN_MARGIN_MS = 4000;
/** A loose bound on the pause of a kept partition through a cooperative join: well under an eager stop-the-world rebalance with a session's worth of waiting. */
const KEPT_PAUSE_BOUND_MS = SESSION_TIMEOUT_MS;
/** How long the coordinator's broker stays down. */
const FAULT_MS = 5000;
const SETTLE_MS = 3000;
/** Bound on the group recovering from a fault (rejoin, coordinator failover, leader elections), on 2 loaded cores. */
const RECOVERY_DEADLINE_MS = 30_000;
const BROKER_ARGS = [
  '--offsets-topic-partitions',
  String(OFFSETS_PARTITIONS),
  '--group-initial-rebalance-delay-ms',
  '500',
  '--group-min-session-timeout-ms',
  '1000',
];

interface MemberView {
  readonly name: string;
  readonly generation: number;
  readonly owned: readonly number[];
}

interface ConsumerKill {
  readonly victim: string;
  readonly owned: readonly number[];
  readonly reassignedMs: number;
}

interface CooperativeJoin {
  readonly joiner: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly stableMs: number;
  readonly assignment: readonly MemberView[];
  /** Filled in after the run, once every report of the window arrived. */
  kept: readonly KeptPartition[];
  /** The same members' same partitions in the equally long window just before the join: their ordinary pauses. */
  keptBefore: readonly KeptPartition[];
}

interface CoordinatorKill {
  readonly brokerId: number;
  readonly offsetsPartition: number;
  /** Partitions of the topic the killed broker led. */
  readonly ledPartitions: readonly number[];
  readonly progressedMs: number;
  readonly ackedBefore: number;
  /** Per partition: the highest offset committed before the kill, and what the new coordinator answered. */
  readonly committedBefore: ReadonlyMap<number, number>;
  readonly committedAfter: ReadonlyMap<number, number>;
}

interface GroupOutcome {
  readonly seed: number;
  readonly initial: readonly MemberView[];
  readonly kills: readonly ConsumerKill[];
  readonly joins: readonly CooperativeJoin[];
  readonly coordinatorKills: readonly CoordinatorKill[];
  readonly produceResult: CheckResult;
  readonly groupResult: GroupCheckResult;
  readonly report: string;
  readonly files: string;
}

/** The live members' views once they agree: one generation, every partition owned once. */
function stableView(members: readonly GroupConsumerProcess[], expected: number): MemberView[] | undefined {
  const live = members.filter((m) => m.running);
  if (live.length !== expected) return undefined;
  const generation = live[0]!.generation;
  if (generation < 0 || live.some((m) => m.generation !== generation)) return undefined;
  const owned = live.flatMap((m) => m.owned);
  if (owned.length !== PARTITIONS || new Set(owned).size !== PARTITIONS) return undefined;
  return live.map((m) => ({ name: m.name, generation: m.generation, owned: m.owned }));
}

const describeMembers = (members: readonly GroupConsumerProcess[]): string =>
  members
    .filter((m) => m.running)
    .map((m) => `${m.name} g${m.generation} [${m.owned.join(',')}]`)
    .join('; ');

async function runGroupScenario(): Promise<GroupOutcome> {
  const seed = FAULT_SEED;
  const random = new SeededRandom(scenarioSeed(seed, NAME));
  const log = (message: string): void => console.log(`[fault ${NAME} seed=${seed}] ${message}`);
  const baseDir = await mkdtemp(join(tmpdir(), `rivulet-fault-${NAME}-`));
  const history = new History();
  const group = new GroupHistory();
  const members: GroupConsumerProcess[] = [];
  const kills: ConsumerKill[] = [];
  const joins: CooperativeJoin[] = [];
  const coordinatorKills: CoordinatorKill[] = [];
  let initial: MemberView[] = [];
  let cluster: LocalCluster | undefined;
  let admin: RivuletClient | undefined;
  let workload: Workload | undefined;
  let workloadEndMs = 0;
  const faultStart = (name: string, detail: string): void => {
    history.faultStart(name, detail);
    group.faultStart(name, detail);
  };
  const faultEnd = (name: string): void => {
    history.faultEnd(name);
    group.faultEnd(name);
  };
  let started = 0;
  const startMember = async (): Promise<GroupConsumerProcess> => {
    const member = await GroupConsumerProcess.start({
      name: `c${++started}`,
      bootstrap: cluster!.bootstrap(),
      groupId: GROUP_ID,
      topic: TOPIC,
      history: group,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
      commitIntervalMs: COMMIT_INTERVAL_MS,
    });
    members.push(member);
    return member;
  };
  const waitStable = (expected: number, timeoutMs: number, what: string): Promise<MemberView[]> =>
    waitFor(what, () => stableView(members, expected), timeoutMs, 20).catch((err: unknown) => {
      throw new Error(`${String(err)}; members now: ${describeMembers(members)}`);
    });
  /** Per partition, the highest offset any member processed before `t` (wall clock). */
  const processedBefore = (t: number): number[] => {
    const highest = new Array<number>(PARTITIONS).fill(-1);
    for (const e of group.events) if (e.type === 'processed' && e.t < t) highest[e.partition] = Math.max(highest[e.partition]!, e.offset);
    return highest;
  };
  const ackedCount = (): number => history.events.filter((e) => e.type === 'produce-ok').length;

  try {
    cluster = await LocalCluster.start({ baseDir, controllers: 3, brokers: 3, startTimeoutMs: 45_000, args: BROKER_ARGS });
    admin = new RivuletClient({ bootstrap: cluster.bootstrap(), requestTimeoutMs: 5000 });
    await admin.admin().createTopics([{ name: TOPIC, partitions: PARTITIONS, replicationFactor: 3 }]);
    const ctx: FaultContext = { cluster, admin: admin.admin(), history, random, topic: TOPIC, partitions: PARTITIONS, faultMs: FAULT_MS, log };
    await waitHealthy(ctx);
    workload = new Workload({ bootstrap: cluster.bootstrap(), topic: TOPIC, partitions: PARTITIONS, history, producers: 1, sendIntervalMs: 10, liveReaders: false });
    workload.start();

    // Three members share the twelve partitions evenly.
    await Promise.all([startMember(), startMember(), startMember()]);
    initial = await waitStable(3, RECOVERY_DEADLINE_MS, 'three members owning every partition once, in one generation');
    log(`group of three: ${initial.map((m) => `${m.name} [${m.owned.join(',')}]`).join('; ')} (generation ${initial[0]!.generation})`);
    await sleep(SETTLE_MS);

    const roundsFrom = Date.now();
    for (let round = 0; FAULT_DURATION_MS === undefined ? round < 1 : Date.now() - roundsFrom < FAULT_DURATION_MS; round++) {
      // 1. kill -9 a member: its partitions move to the others once its session expires.
      // In name order, so that a seed picks the same member whichever process was ready first.
      const live = members.filter((m) => m.running).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
      const victim = live[random.nextInt(live.length)]!;
      const owned = victim.owned;
      faultStart('kill-consumer', `${victim.name} (owned ${owned.join(',')})`);
      log(`kill -9 member ${victim.name} (owned ${owned.join(',')})`);
      const killedAt = Date.now();
      await victim.kill();
      const bound = SESSION_TIMEOUT_MS + REASSIGN_MARGIN_MS;
      const after = await waitStable(live.length - 1, bound - (Date.now() - killedAt), `${victim.name}'s partitions owned by the other ${live.length - 1} members within ${bound} ms of the kill`);
      const reassignedMs = Date.now() - killedAt;
      kills.push({ victim: victim.name, owned, reassignedMs });
      faultEnd('kill-consumer');
      log(`${victim.name}'s partitions reassigned after ${reassignedMs} ms: ${after.map((m) => `${m.name} [${m.owned.join(',')}]`).join('; ')}`);
      await sleep(SETTLE_MS);

      // 2. A new member joins with the cooperative protocol.
      const joinFrom = Date.now();
      faultStart('cooperative-join', `c${started + 1}`);
      const joiner = await startMember();
      const assignment = await waitStable(live.length, RECOVERY_DEADLINE_MS, `${joiner.name} taking its share`);
      const joinTo = Date.now();
      faultEnd('cooperative-join');
      joins.push({ joiner: joiner.name, fromMs: joinFrom, toMs: joinTo, stableMs: joinTo - joinFrom, assignment, kept: [], keptBefore: [] });
      log(`${joiner.name} joined; stable after ${joinTo - joinFrom} ms: ${assignment.map((m) => `${m.name} [${m.owned.join(',')}]`).join('; ')}`);
      await sleep(SETTLE_MS);

      // 3. kill -9 the broker coordinating the group.
      const offsetsPartition = groupPartition(GROUP_ID, OFFSETS_PARTITIONS);
      const metadata = await ctx.admin.metadata(['__consumer_offsets', TOPIC]);
      const brokerId = metadata.topics.find((t) => t.name === '__consumer_offsets')!.partitions.find((p) => p.partition === offsetsPartition)!.leaderId;
      const ledPartitions = metadata.topics.find((t) => t.name === TOPIC)!.partitions.filter((p) => p.leaderId === brokerId).map((p) => p.partition);
      const ackedBefore = ackedCount();
      // Records sent from here on are written after the coordinator died.
      const sentFrom = history.length;
      const killAt = Date.now();
      faultStart('kill-coordinator', `broker ${brokerId}, leader of __consumer_offsets-${offsetsPartition} and of p${ledPartitions.join(',p')}`);
      log(`kill -9 broker ${brokerId}: the group's coordinator (__consumer_offsets-${offsetsPartition}), leader of p${ledPartitions.join(',p')}`);
      await cluster.node(brokerId).kill();
      const restart = sleep(FAULT_MS);
      // The group goes on when every partition has processed a record sent after the kill (not
      // merely records written before it, still in flight or buffered).
      const sentAfter = new Set<string>();
      const firstWrittenAfter = new Array<number>(PARTITIONS).fill(Number.POSITIVE_INFINITY);
      const highestProcessed = new Array<number>(PARTITIONS).fill(-1);
      let sendsScanned = sentFrom;
      let scanned = 0;
      const waiting = (): number[] => [...Array(PARTITIONS).keys()].filter((p) => !(highestProcessed[p]! >= firstWrittenAfter[p]!));
      await waitFor(
        'every partition processing records written after the coordinator died',
        () => {
          for (; sendsScanned < history.events.length; sendsScanned++) {
            const e = history.events[sendsScanned]!;
            if (e.type === 'produce-invoke') sentAfter.add(e.value);
            else if (e.type === 'produce-ok' && sentAfter.has(e.value)) firstWrittenAfter[e.partition] = Math.min(firstWrittenAfter[e.partition]!, e.offset);
          }
          for (; scanned < group.events.length; scanned++) {
            const e = group.events[scanned]!;
            if (e.type === 'processed') highestProcessed[e.partition] = Math.max(highestProcessed[e.partition]!, e.offset);
          }
          return waiting().length === 0 || undefined;
        },
        RECOVERY_DEADLINE_MS,
        20,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; partitions still waiting: ${waiting().join(',')}; members: ${describeMembers(members)}`);
      });
      const progressedMs = Date.now() - killAt;
      log(`every partition processed records written after the coordinator died, ${progressedMs} ms after the kill`);
      // Every report sent before the kill has arrived by now.
      const committedBefore = new Map<number, number>();
      for (const e of group.events) {
        if (e.type !== 'committed' || e.t >= killAt) continue;
        for (const o of e.offsets) committedBefore.set(o.partition, Math.max(committedBefore.get(o.partition) ?? -1, o.offset));
      }
      const committed = await waitFor(
        "the group's committed offsets from its new coordinator",
        async () => {
          const offsets = await ctx.admin.listGroupOffsets(GROUP_ID);
          return offsets.length > 0 ? offsets : undefined;
        },
        RECOVERY_DEADLINE_MS,
        200,
      );
      const committedAfter = new Map(committed.filter((o) => o.topic === TOPIC).map((o) => [o.partition, o.offset]));
      coordinatorKills.push({ brokerId, offsetsPartition, ledPartitions, progressedMs, ackedBefore, committedBefore, committedAfter });
      await restart;
      await cluster.node(brokerId).start();
      faultEnd('kill-coordinator');
      await waitHealthy(ctx);
      await sleep(SETTLE_MS);
    }

    // Stop producing; the members drain, commit everything, and stop.
    await workload.stop();
    workloadEndMs = Date.now();
    group.note('workload-end');
    const lastAcked = new Array<number>(PARTITIONS).fill(-1);
    for (const e of history.events) if (e.type === 'produce-ok') lastAcked[e.partition] = Math.max(lastAcked[e.partition]!, e.offset);
    await waitFor(
      'the members processing every acknowledged record',
      () => {
        const highest = processedBefore(Number.POSITIVE_INFINITY);
        return highest.every((offset, p) => offset >= lastAcked[p]!) || undefined;
      },
      RECOVERY_DEADLINE_MS,
      100,
    );
    await waitFor(
      "the group's committed offsets at the end of every partition",
      async () => {
        const offsets = await admin!.admin().listGroupOffsets(GROUP_ID);
        return lastAcked.every((offset, p) => offsets.some((o) => o.topic === TOPIC && o.partition === p && o.offset >= offset + 1)) || undefined;
      },
      RECOVERY_DEADLINE_MS,
      200,
    );
    await Promise.all(members.map((m) => m.stop()));
    await waitHealthy(ctx);
    await workload.finalRead(cluster.bootstrap());
  } catch (err) {
    history.note(`harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    group.note(`harness error: ${String(err)}`);
    log(`harness error: ${String(err)}`);
    for (const m of members) if (m.recentLogLines.length > 0) log(`member ${m.name} last log lines:\n${m.recentLogLines.slice(-10).join('\n')}`);
    for (const node of cluster?.nodes.values() ?? []) if (node.recentLogLines.length > 0) log(`node ${node.id} last log lines:\n${node.recentLogLines.slice(-10).join('\n')}`);
    await saveRun(seed, history, group, undefined).catch(() => undefined);
    throw err;
  } finally {
    await Promise.all(members.map((m) => m.kill()));
    await workload?.close();
    await admin?.close();
    await cluster?.stop();
    await rm(baseDir, { recursive: true, force: true });
  }

  for (const join of joins) {
    join.kept = keptPartitions(group, join.fromMs, join.toMs);
    const before = keptPartitions(group, 2 * join.fromMs - join.toMs, join.fromMs);
    join.keptBefore = before.filter((b) => join.kept.some((k) => k.member === b.member && k.partition === b.partition));
  }
  const produceResult = checkHistory(history);
  const acked = history.events.flatMap((e) => (e.type === 'produce-ok' ? [{ partition: e.partition, offset: e.offset, value: e.value }] : []));
  const produced = new Map(history.events.flatMap((e) => (e.type === 'produce-invoke' ? [[e.value, e.partition] as const] : [])));
  const groupResult = checkGroupHistory({ acked, produced, history: group, partitions: PARTITIONS, endMs: workloadEndMs });
  const report = [formatCheckResult(produceResult), formatGroupCheckResult(groupResult), ...summary(kills, joins, coordinatorKills, groupResult, produceResult)].join('\n');
  const files = await saveRun(seed, history, group, { produce: produceResult, group: groupResult });
  log(`\n${report}\nhistories: ${files}`);
  return { seed, initial, kills, joins, coordinatorKills, produceResult, groupResult, report, files };
}

/** The availability figures of the run, one line per fault. */
function summary(kills: readonly ConsumerKill[], joins: readonly CooperativeJoin[], coordinatorKills: readonly CoordinatorKill[], result: GroupCheckResult, produced: CheckResult): string[] {
  const figures = (name: string): GroupCheckResult['faults'] => result.faults.filter((f) => f.fault === name);
  const writeGaps = (name: string, index: number): CheckResult['availability'][number]['partitions'] => produced.availability.filter((a) => a.fault === name)[index]?.partitions ?? [];
  const lines = ['figures:'];
  kills.forEach((k, i) => {
    const f = figures('kill-consumer')[i];
    lines.push(`  kill -9 ${k.victim} (owned ${k.owned.join(',')}): partitions owned again after ${f?.reownedMs ?? '?'} ms (harness saw it at ${k.reassignedMs} ms), progress on every partition after ${f?.resumedMs ?? '?'} ms, reprocessed ${f?.reprocessed ?? '?'}`);
  });
  joins.forEach((j, i) => {
    const f = figures('cooperative-join')[i];
    const worst = [...j.kept].sort((a, b) => b.longestGapMs - a.longestGapMs)[0];
    const worstBefore = Math.max(0, ...j.keptBefore.map((k) => k.longestGapMs));
    const moved = f?.partitions.filter((p) => !j.kept.some((k) => k.partition === p.partition)) ?? [];
    const movedPause = Math.max(0, ...moved.map((p) => p.longestGapMs));
    lines.push(
      `  ${j.joiner} joins: stable ${j.stableMs} ms after its process was started; ${j.kept.length} kept partitions, ${j.kept.filter((k) => k.givenUp).length} given up; ` +
        `longest pause of a kept partition ${worst?.longestGapMs ?? '?'} ms (${worst?.member} p${worst?.partition}; ${worstBefore} ms in the ${j.stableMs} ms before the join); ` +
        `the ${moved.length} moved partitions owned by ${j.joiner} after ${f?.reownedMs ?? '?'} ms, their longest pause ${movedPause} ms; reprocessed ${f?.reprocessed ?? '?'}`,
    );
  });
  coordinatorKills.forEach((c, i) => {
    const f = figures('kill-coordinator')[i];
    const writes = writeGaps('kill-coordinator', i);
    const isLed = (p: { partition: number }): boolean => c.ledPartitions.includes(p.partition);
    const resumed = (led: boolean): string => {
      const list = f?.partitions.filter((p) => isLed(p) === led) ?? [];
      return list.some((p) => p.resumedMs === null) ? 'never' : `${Math.max(0, ...list.map((p) => p.resumedMs!))} ms`;
    };
    const gap = (list: readonly { partition: number; longestGapMs: number }[], led: boolean): number => Math.max(0, ...list.filter((p) => isLed(p) === led).map((p) => p.longestGapMs));
    lines.push(
      `  kill -9 coordinator broker ${c.brokerId}: records written after the kill processed on every partition after ${c.progressedMs} ms; ` +
        `progress past what was processed before, on the partitions it led (p${c.ledPartitions.join(',p')}): ${resumed(true)}, on the others: ${resumed(false)}; ` +
        `longest gap without processing / without an acknowledged write: ${gap(f?.partitions ?? [], true)} / ${gap(writes, true)} ms on the partitions it led, ${gap(f?.partitions ?? [], false)} / ${gap(writes, false)} ms on the others; ` +
        `reprocessed ${f?.reprocessed ?? '?'} of ${c.ackedBefore} records acknowledged before the kill`,
    );
  });
  return lines;
}

async function saveRun(seed: number, history: History, group: GroupHistory, result: object | undefined): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const base = join(RESULTS_DIR, `${NAME}-seed${seed}-${Date.now()}`);
  await writeFile(`${base}.history.jsonl`, history.toJsonLines());
  await writeFile(`${base}.group-history.jsonl`, group.toJsonLines());
  if (result !== undefined) await writeFile(`${base}.result.json`, JSON.stringify(result, null, 2));
  return `${base}.*`;
}

describe(`fault: ${NAME}`, () => {
  it(
    `${NAME}: members killed, a cooperative join and the coordinator killed; every acknowledged record processed, none skipped (seed ${FAULT_SEED}${FAULT_DURATION_MS === undefined ? ', short mode' : `, ${FAULT_DURATION_MS} ms`})`,
    async () => {
      const outcome = await runGroupScenario();
      const context = `scenario ${NAME} failed with FAULT_SEED=${outcome.seed} (histories: ${outcome.files})\n${outcome.report}`;
      expect(outcome.initial.map((m) => m.owned.length), `three members share twelve partitions evenly\n${context}`).toEqual([4, 4, 4]);
      for (const kill of outcome.kills) {
        expect(kill.reassignedMs, `${kill.victim}'s partitions reassigned within the session timeout and a margin\n${context}`).toBeLessThanOrEqual(SESSION_TIMEOUT_MS + REASSIGN_MARGIN_MS);
      }
      for (const join of outcome.joins) {
        expect(join.assignment.map((m) => m.owned.length), `after ${join.joiner} joined, three members share evenly\n${context}`).toEqual([4, 4, 4]);
        // Sticky: of the six each remaining member had, it keeps four; none of them is given up, each is consumed through the rebalance.
        const keptBy = new Map<string, number>();
        for (const k of join.kept) keptBy.set(k.member, (keptBy.get(k.member) ?? 0) + 1);
        expect([...keptBy.values()], `each member that stays keeps four partitions through ${join.joiner}'s join\n${context}`).toEqual([4, 4]);
        expect(join.kept.filter((k) => k.givenUp).map((k) => `${k.member} p${k.partition}`), `kept partitions revoked during ${join.joiner}'s join\n${context}`).toEqual([]);
        expect(join.kept.filter((k) => k.processed === 0).map((k) => `${k.member} p${k.partition}`), `kept partitions not consumed during ${join.joiner}'s join\n${context}`).toEqual([]);
        expect(Math.max(...join.kept.map((k) => k.longestGapMs)), `longest pause of a kept partition during ${join.joiner}'s join\n${context}`).toBeLessThan(KEPT_PAUSE_BOUND_MS);
      }
      for (const c of outcome.coordinatorKills) {
        const regressed = [...c.committedBefore].filter(([p, offset]) => (c.committedAfter.get(p) ?? -1) < offset).map(([p, offset]) => `p${p}: ${offset} before, ${c.committedAfter.get(p) ?? 'none'} after`);
        expect(regressed, `committed offsets the new coordinator lost (broker ${c.brokerId} killed)\n${context}`).toEqual([]);
        const figures = outcome.groupResult.faults.filter((f) => f.fault === 'kill-coordinator')[outcome.coordinatorKills.indexOf(c)]!;
        // Had the group started over, it would have processed everything acknowledged before the kill again.
        expect(figures.reprocessed, `records processed again after the coordinator died, of ${c.ackedBefore} acknowledged before\n${context}`).toBeLessThan(c.ackedBefore / 10);
      }
      expect(outcome.produceResult.violations.map((v) => `[${v.kind}] ${v.message}`), context).toEqual([]);
      expect(outcome.groupResult.violations.map((v) => `[${v.kind}] ${v.message}`), context).toEqual([]);
      expect(outcome.groupResult.stats.acked, 'the workload acknowledged nothing').toBeGreaterThan(0);
    },
    (FAULT_DURATION_MS ?? 0) + 240_000,
  );
});
