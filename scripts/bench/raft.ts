// Measures the Raft stack with real processes: a 3-member quorum of `raft-node` processes on
// loopback (LevelDB with synced writes, gRPC between members, default 30 ms ticks and a
// 10-tick election timeout). Reports committed proposals per second and commit latency
// p50/p99 for 100-byte and 10 KiB values with a bounded number of proposals in flight, then
// the time from kill -9 of the leader until a new leader commits a proposal (several runs).
// Latency is measured by the client through the raft-node HTTP API, so it includes one
// HTTP round trip on loopback. Prints a table.
// Run: npx tsc -b && npx tsx --conditions=@rivulet/source scripts/bench/raft.ts [secondsPerCase=5] [failoverRuns=7]
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RAFT_NODE_BIN, RaftNodeProcess, freePort, waitFor } from '../../packages/testkit/src/index.js';

const secondsPerCase = Number(process.argv[2] ?? 5);
const failoverRuns = Number(process.argv[3] ?? 7);
const IN_FLIGHT_PROPOSALS = 32;

async function leader(members: RaftNodeProcess[]): Promise<RaftNodeProcess> {
  return waitFor(
    'a leader',
    async () => {
      const live = members.filter((m) => m.isRunning);
      const statuses = await Promise.all(live.map((m) => m.status()));
      const found = statuses.find((s) => s.role === 'leader');
      if (found === undefined || !statuses.every((s) => s.leaderId === found.id)) return undefined;
      return live.find((m) => m.id === found.id);
    },
    30_000,
  );
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function throughput(target: RaftNodeProcess, valueBytes: number): Promise<{ perSecond: number; p50: number; p99: number; count: number }> {
  // Hex doubles the bytes, so half as many random bytes give `valueBytes` characters.
  const value = randomBytes(valueBytes / 2).toString('hex');
  const latenciesMs: number[] = [];
  const endAt = performance.now() + secondsPerCase * 1000;
  let sequence = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < endAt) {
      const started = performance.now();
      if (!(await target.propose(`k${sequence++ % 1000}`, value)).ok) throw new Error('proposal refused during the throughput run');
      latenciesMs.push(performance.now() - started);
    }
  };
  const startedAt = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT_PROPOSALS }, () => worker()));
  const elapsedS = (performance.now() - startedAt) / 1000;
  latenciesMs.sort((a, b) => a - b);
  return { perSecond: latenciesMs.length / elapsedS, p50: percentile(latenciesMs, 50), p99: percentile(latenciesMs, 99), count: latenciesMs.length };
}

/** kill -9 the leader; time until one of the others accepts and commits a proposal. */
async function failover(members: RaftNodeProcess[], run: number): Promise<number> {
  const old = await leader(members);
  const oldTerm = (await old.status()).term;
  const survivors = members.filter((m) => m !== old);
  const killedAt = performance.now();
  await old.kill();
  let attempt = 0;
  await waitFor(
    'a new leader that commits',
    async () => {
      const statuses = await Promise.all(survivors.map((m) => m.status().catch(() => undefined)));
      const candidate = statuses.find((s) => s !== undefined && s.role === 'leader' && s.term > oldTerm);
      if (candidate === undefined) return undefined;
      const member = survivors.find((m) => m.id === candidate.id)!;
      return (await member.propose(`failover-${run}-${attempt++}`, 'x')).ok ? true : undefined;
    },
    30_000,
  );
  const elapsedMs = performance.now() - killedAt;
  await old.start();
  // Let the restarted member catch up and the cluster settle before the next run.
  await waitFor(
    'the restarted member to catch up',
    async () => {
      const [restarted, current] = await Promise.all([old.status(), (await leader(members)).status()]);
      return restarted.appliedIndex >= current.commitIndex ? true : undefined;
    },
    30_000,
    50,
  );
  return elapsedMs;
}

async function main(): Promise<void> {
  if (!existsSync(RAFT_NODE_BIN)) throw new Error(`${RAFT_NODE_BIN} is missing: run npx tsc -b first`);
  const dataRoot = await mkdtemp(join(tmpdir(), 'raft-bench-'));
  const ports = await Promise.all([1, 2, 3].map(() => freePort()));
  const peers = ports.map((port, i) => `${i + 1}@127.0.0.1:${port}`).join(',');
  const members = ports.map((_, i) => new RaftNodeProcess(i + 1, ['--id', String(i + 1), '--peers', peers, '--data-dir', join(dataRoot, `m${i + 1}`), '--log-level', 'error']));
  try {
    await Promise.all(members.map((m) => m.start()));
    const rows: Record<string, Record<string, string>> = {};
    for (const valueBytes of [100, 10 * 1024]) {
      const target = await leader(members);
      await throughput(target, valueBytes); // warm-up (JIT, LevelDB memtables); not reported
      const result = await throughput(target, valueBytes);
      rows[`propose ${valueBytes === 100 ? '100 B' : '10 KiB'} (${IN_FLIGHT_PROPOSALS} in flight)`] = {
        'commits/s': result.perSecond.toFixed(0),
        'p50 ms': result.p50.toFixed(1),
        'p99 ms': result.p99.toFixed(1),
        samples: String(result.count),
      };
    }
    const failoversMs: number[] = [];
    for (let run = 0; run < failoverRuns; run++) failoversMs.push(await failover(members, run));
    failoversMs.sort((a, b) => a - b);
    rows[`kill -9 leader -> new leader commits (${failoverRuns} runs)`] = {
      'commits/s': '',
      'p50 ms': percentile(failoversMs, 50).toFixed(0),
      'p99 ms': percentile(failoversMs, 99).toFixed(0),
      samples: failoversMs.map((ms) => ms.toFixed(0)).join(' '),
    };
    console.table(rows);
  } finally {
    for (const m of members) await m.kill();
    await rm(dataRoot, { recursive: true, force: true });
  }
}

await main();
