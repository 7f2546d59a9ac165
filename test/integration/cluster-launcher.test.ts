// scripts/cluster.ts end to end: start 1 controller and 2 brokers in a temporary folder, kill -9
// and restart a broker (same ports, new process), status, stop.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const SCRIPT = join(ROOT, 'scripts/cluster.ts');

interface NodeEntry {
  id: number;
  role: string;
  grpcPort: number;
  httpPort: number;
  kafkaPort: number;
  dataDir: string;
  pid: number | null;
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rivulet-launcher-'));
});

afterAll(async () => {
  // If an assertion failed half way, end whatever node processes the launcher left running:
  // by their recorded pid, and only when that pid still runs this folder's node.
  if (dir && existsSync(join(dir, 'cluster.json'))) {
    for (const node of nodes()) if (node.pid !== null && runsNode(node.pid, node.dataDir)) process.kill(node.pid, 'SIGKILL');
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

function nodes(): NodeEntry[] {
  return (JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as { nodes: NodeEntry[] }).nodes;
}

function node(id: number): NodeEntry {
  return nodes().find((n) => n.id === id)!;
}

/** Whether `pid` is a live `rivulet start` of the node with this data directory. */
function runsNode(pid: number, dataDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dataDir);
  } catch {
    return false;
  }
}

function launcher(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(TSX, [SCRIPT, ...args, '--dir', dir], { cwd: ROOT, timeout: 90_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, out: stdout, err: stderr });
    });
  });
}

/** The status table row of node `id`, split into columns. */
function statusRow(out: string, id: number): string[] {
  const line = out.split('\n').find((l) => l.startsWith(`${id} `));
  if (line === undefined) throw new Error(`no row for node ${id} in:\n${out}`);
  return line.trim().split(/\s{2,}/);
}

describe('scripts/cluster.ts', () => {
  it('starts a cluster, kills and restarts a broker on its ports, reports status and stops everything', async () => {
    const started = await launcher('start', '--controllers', '1', '--brokers', '2');
    expect(started.code, started.err).toBe(0);
    const initial = nodes();
    expect(initial.map((n) => [n.id, n.role])).toEqual([
      [1001, 'controller'],
      [1, 'broker'],
      [2, 'broker'],
    ]);
    for (const n of initial) expect(runsNode(n.pid!, n.dataDir), `node ${n.id} runs`).toBe(true);
    expect(started.out).toContain(`gRPC bootstrap:  127.0.0.1:${node(1).grpcPort},127.0.0.1:${node(2).grpcPort}`);
    for (const id of [1001, 1, 2]) expect(readFileSync(join(dir, `node-${id}.log`), 'utf8')).toContain('"msg":"node ready"');

    const before = node(2);
    const killed = await launcher('kill', '2');
    expect(killed.code, killed.err).toBe(0);
    expect(killed.out).toContain(`killed broker 2 (pid ${before.pid})`);
    expect(runsNode(before.pid!, before.dataDir)).toBe(false);
    expect(node(2).pid).toBeNull();

    const oneDown = await launcher('status');
    expect(oneDown.code, oneDown.err).toBe(0);
    expect(statusRow(oneDown.out, 2).slice(0, 4)).toEqual(['2', 'broker', 'down', '-']);
    expect(statusRow(oneDown.out, 1).slice(0, 3)).toEqual(['1', 'broker', 'running']);
    expect(oneDown.out).toContain('Cluster: local-cluster');
    expect(oneDown.out).toContain('CONTROLLERS');

    const restarted = await launcher('restart', '2');
    expect(restarted.code, restarted.err).toBe(0);
    const after = node(2);
    expect(after.pid).not.toBe(before.pid);
    expect(runsNode(after.pid!, after.dataDir)).toBe(true);
    expect([after.grpcPort, after.httpPort, after.kafkaPort]).toEqual([before.grpcPort, before.httpPort, before.kafkaPort]);

    const allUp = await launcher('status');
    expect(allUp.code, allUp.err).toBe(0);
    for (const id of [1001, 1, 2]) expect(statusRow(allUp.out, id)[2]).toBe('running');
    // `rivulet cluster status` below the process table: broker 2 is back, unfenced (it reported ready only once unfenced).
    const brokers = allUp.out.slice(allUp.out.indexOf('\nBROKERS\n'));
    expect(statusRow(brokers, 2).slice(0, 2)).toEqual(['2', 'unfenced']);
    expect(allUp.out).toMatch(/1001 +127\.0\.0\.1:\d+ +leader +yes/);

    const stopped = await launcher('stop');
    expect(stopped.code, stopped.err).toBe(0);
    // Brokers (in parallel) first, then the controller.
    const lines = stopped.out.trim().split('\n').map((l) => l.split(' (')[0]);
    expect([...lines.slice(0, 2)].sort()).toEqual(['stopped broker 1', 'stopped broker 2']);
    expect(lines.slice(2)).toEqual(['stopped controller 1001']);
    for (const n of initial) expect(runsNode(n.pid!, n.dataDir)).toBe(false);
    expect(runsNode(after.pid!, after.dataDir)).toBe(false);
    expect(nodes().every((n) => n.pid === null)).toBe(true);

    const down = await launcher('status');
    expect(down.code).toBe(1);
    expect(down.out).toContain('no broker is running');
  });
});
