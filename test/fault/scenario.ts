import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '@rivulet/common';
import { RivuletClient } from '@rivulet/client';
import { History, LocalCluster, checkHistory, formatCheckResult, netnsSupport, type CheckResult } from '@rivulet/testkit';
import { sleep, waitHealthy, type Fault, type FaultContext } from './faults.js';
import { Workload } from './workload.js';

/** FAULT_SEED picks victims and orders; the same seed makes the same choices. */
export const FAULT_SEED = Number(process.env.FAULT_SEED ?? 20_240_501);
/** FAULT_DURATION_MS: long mode, repeating the scenario's faults for this long. Unset: the short CI mode. */
export const FAULT_DURATION_MS = process.env.FAULT_DURATION_MS === undefined ? undefined : Number(process.env.FAULT_DURATION_MS);
/** Where failed runs leave their history (JSON lines) and result. */
export const RESULTS_DIR = process.env.FAULT_RESULTS_DIR ?? join(tmpdir(), 'rivulet-fault-results');

export interface Scenario {
  readonly name: string;
  /** The faults of one round, in order. */
  readonly faults: readonly Fault[];
  /** Rounds in short mode. Default 2. */
  readonly shortRounds?: number;
  /** How long each fault lasts, ms. Default 5000 (longer than the 2 s broker session). */
  readonly faultMs?: number;
  /** Brokers reach the controllers through TcpProxies (for cuts). */
  readonly controllerProxies?: boolean;
  /** 'netns': every node in its own network namespace, links cut with iptables (`cluster.net`); needs root. */
  readonly network?: 'loopback' | 'netns';
  /** Extra `rivulet start` flags for every node (e.g. a shorter replica.lag.time.max.ms). */
  readonly args?: readonly string[];
}

export interface ScenarioOutcome {
  readonly seed: number;
  readonly result: CheckResult;
  readonly report: string;
  readonly historyFile: string | undefined;
}

const TOPIC = 'fault';
const PARTITIONS = 3;
/** Quiet time before the first fault, between rounds and after the last heal, ms. */
const SETTLE_MS = 3000;

/** FNV-1a of the scenario name, mixed into the seed so scenarios do not all pick the same victims. */
export function scenarioSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Starts 3 controllers and 3 brokers as processes, runs the workload, injects the scenario's
 * faults (one round per short-mode round, or repeatedly for FAULT_DURATION_MS), heals, stops
 * the producers, reads everything back and checks the history.
 */
export async function runScenario(scenario: Scenario): Promise<ScenarioOutcome> {
  const seed = FAULT_SEED;
  const random = new SeededRandom(scenarioSeed(seed, scenario.name));
  const log = (message: string): void => console.log(`[fault ${scenario.name} seed=${seed}] ${message}`);
  const baseDir = await mkdtemp(join(tmpdir(), `rivulet-fault-${scenario.name}-`));
  const history = new History();
  let cluster: LocalCluster | undefined;
  let admin: RivuletClient | undefined;
  let workload: Workload | undefined;
  try {
    cluster = await LocalCluster.start({
      baseDir,
      controllers: 3,
      brokers: 3,
      controllerProxies: scenario.controllerProxies ?? false,
      startTimeoutMs: 45_000,
      ...(scenario.network !== undefined ? { network: scenario.network } : {}),
      ...(scenario.args !== undefined ? { args: scenario.args } : {}),
    });
    if (cluster.network !== undefined) log(`netns mode: host ${cluster.network.hostAddress}, ${[...cluster.nodes.values()].map((n) => `${n.id}=${n.netns?.address}`).join(' ')}`);
    admin = new RivuletClient({ bootstrap: cluster.bootstrap(), requestTimeoutMs: 5000 });
    await admin.admin().createTopics([{ name: TOPIC, partitions: PARTITIONS, replicationFactor: 3 }]);
    const ctx: FaultContext = {
      cluster,
      admin: admin.admin(),
      history,
      random,
      topic: TOPIC,
      partitions: PARTITIONS,
      faultMs: scenario.faultMs ?? 5000,
      log,
    };
    const initial = await waitHealthy(ctx);
    log(`cluster up: ${initial.map((p) => `p${p.partition} leader ${p.leaderId} isr [${p.isr.join(',')}]`).join('; ')}`);

    workload = new Workload({ bootstrap: cluster.bootstrap(), topic: TOPIC, partitions: PARTITIONS, history });
    workload.start();
    await sleep(SETTLE_MS);

    const started = Date.now();
    for (let round = 0; ; round++) {
      if (FAULT_DURATION_MS === undefined ? round >= (scenario.shortRounds ?? 2) : Date.now() - started >= FAULT_DURATION_MS) break;
      for (const fault of scenario.faults) {
        await fault.run(ctx);
        // Let the cluster heal with the workload running before the next fault.
        const healed = Date.now();
        await waitHealthy(ctx);
        history.note(`healthy again ${Date.now() - healed} ms after ${fault.name} ended`);
        await sleep(SETTLE_MS);
      }
    }

    await workload.stop();
    await waitHealthy(ctx);
    await workload.finalRead(cluster.bootstrap());
  } catch (err) {
    history.note(`harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    log(`harness error: ${String(err)}`);
    await saveRun(scenario.name, seed, history, undefined).catch(() => undefined);
    for (const node of cluster?.nodes.values() ?? []) {
      if (node.recentLogLines.length > 0) log(`node ${node.id} last log lines:\n${node.recentLogLines.slice(-10).join('\n')}`);
    }
    throw err;
  } finally {
    await workload?.close();
    await admin?.close();
    await cluster?.stop();
    await rm(baseDir, { recursive: true, force: true });
  }

  const result = checkHistory(history);
  const report = formatCheckResult(result);
  const historyFile = await saveRun(scenario.name, seed, history, result);
  log(`\n${report}\nhistory: ${historyFile}`);
  if (!result.ok) log(`FAILED with seed ${seed}; history saved to ${historyFile} (replay: FAULT_SEED=${seed})`);
  return { seed, result, report, historyFile };
}

async function saveRun(name: string, seed: number, history: History, result: CheckResult | undefined): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}-seed${seed}-${Date.now()}.history.jsonl`);
  await writeFile(file, history.toJsonLines());
  if (result !== undefined) await writeFile(file.replace(/\.history\.jsonl$/, '.result.json'), JSON.stringify(result, null, 2));
  return file;
}

/** Declares a scenario's test: zero violations, availability printed; a failure names its seed and violations. */
export function faultTest(scenario: Scenario): void {
  const timeoutMs = (FAULT_DURATION_MS ?? 0) + 240_000;
  it(
    `${scenario.name}: no acknowledged write lost, no read disagrees (seed ${FAULT_SEED}${FAULT_DURATION_MS === undefined ? ', short mode' : `, ${FAULT_DURATION_MS} ms`})`,
    async () => {
      const outcome = await runScenario(scenario);
      expect(
        outcome.result.violations.map((v) => `[${v.kind}] ${v.message}`),
        `scenario ${scenario.name} failed with FAULT_SEED=${outcome.seed} (history: ${outcome.historyFile})\n${outcome.report}`,
      ).toEqual([]);
      expect(outcome.result.stats.acked, 'the workload acknowledged nothing').toBeGreaterThan(0);
    },
    timeoutMs,
  );
}

/**
 * A describe block for scenarios that need `network: 'netns'`: skipped, with the reason in its
 * name and on the console, where namespaces cannot be made (not root, no `ip netns`, no iptables).
 */
export function describeNetns(name: string, body: () => void): void {
  const support = netnsSupport();
  if (!support.ok) console.warn(`[fault ${name}] skipped: ${support.reason}`);
  describe.skipIf(!support.ok)(support.ok ? `${name} (netns)` : `${name} (netns; skipped: ${support.reason})`, body);
}
