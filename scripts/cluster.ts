// A local cluster launcher: N controller and M broker `rivulet start` processes on loopback,
// each with its data directory and log under one folder, running detached so they outlive
// this script. Ports are chosen once, at the first start, and kept in <dir>/cluster.json, so a
// restarted node comes back on the same ports.
//
//   npx tsx scripts/cluster.ts start --controllers 3 --brokers 3 --dir ./local-cluster [--kafka]
//   npx tsx scripts/cluster.ts status  --dir ./local-cluster
//   npx tsx scripts/cluster.ts kill 2 --dir ./local-cluster      (SIGKILL)
//   npx tsx scripts/cluster.ts restart 2 --dir ./local-cluster
//   npx tsx scripts/cluster.ts stop [id] --dir ./local-cluster   (SIGTERM; every node when no id)
//
// `start` on a folder that already holds a cluster starts its nodes that are not running.
// Build first (`npx tsc -b`): the nodes run packages/cli/dist/bin.js.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { freePort } from '../packages/testkit/src/ports.js';
import { NODE_PROCESS_FLAGS } from '../packages/common/src/node-process-flags.js';

const CLI_BIN = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url));
const STATE_FILE = 'cluster.json';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

type Role = 'controller' | 'broker';

interface NodeState {
  readonly id: number;
  readonly role: Role;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** -1: no Kafka listener. */
  readonly kafkaPort: number;
  readonly dataDir: string;
  readonly log: string;
  /** The process last started for this node; null when never started or stopped by this script. */
  pid: number | null;
}

interface ClusterState {
  readonly version: 1;
  readonly clusterId: string;
  readonly quorum: string;
  /** Extra `rivulet start` flags for every node. */
  readonly extraArgs: readonly string[];
  readonly nodes: NodeState[];
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

const statePath = (dir: string): string => join(dir, STATE_FILE);

async function loadState(dir: string): Promise<ClusterState> {
  const path = statePath(dir);
  if (!existsSync(path)) throw new Error(`no cluster in ${dir} (${STATE_FILE} is missing): run start first`);
  return JSON.parse(await readFile(path, 'utf8')) as ClusterState;
}

let saving: Promise<void> = Promise.resolve();

/** Writes the state file atomically; saves of nodes started or stopped at once take turns. */
function saveState(dir: string, state: ClusterState): Promise<void> {
  const path = statePath(dir);
  const write = async (): Promise<void> => {
    await writeFile(`${path}.tmp`, JSON.stringify(state, null, 2) + '\n');
    await rename(`${path}.tmp`, path);
  };
  saving = saving.then(write, write);
  return saving;
}

/**
 * Whether `node`'s recorded process still runs. Where /proc exists the process must also be
 * this node's `rivulet start` (its command line names the node's data directory), so a pid
 * reused by another program after the node died is never mistaken for it, nor signalled.
 */
function isAlive(node: NodeState): boolean {
  if (node.pid === null) return false;
  const proc = `/proc/${node.pid}/cmdline`;
  if (existsSync('/proc/self/cmdline')) {
    try {
      const args = readFileSync(proc, 'utf8').split('\0');
      return args.includes('start') && args.includes(node.dataDir);
    } catch {
      return false;
    }
  }
  try {
    process.kill(node.pid, 0);
    return true;
  } catch {
    return false;
  }
}

function nodeArgs(state: ClusterState, node: NodeState): string[] {
  return [
    'start',
    '--roles',
    node.role,
    '--node-id',
    String(node.id),
    '--cluster-id',
    state.clusterId,
    '--controller-quorum',
    state.quorum,
    '--data-dir',
    node.dataDir,
    '--host',
    '127.0.0.1',
    '--grpc-port',
    String(node.grpcPort),
    '--http-port',
    String(node.httpPort),
    '--kafka-port',
    String(node.kafkaPort),
    '--log-format',
    'json',
    '--log-level',
    'info',
    ...state.extraArgs,
  ];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function lastLines(path: string, count: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
  } catch {
    return '';
  }
}

/** Starts one node detached, its stdout and stderr appended to its log, and waits for "node ready". */
async function startNode(dir: string, state: ClusterState, node: NodeState): Promise<void> {
  await mkdir(node.dataDir, { recursive: true });
  const logOffset = existsSync(node.log) ? statSync(node.log).size : 0;
  const fd = openSync(node.log, 'a');
  let pid: number | undefined;
  try {
    const child = spawn(process.execPath, [...NODE_PROCESS_FLAGS, CLI_BIN, ...nodeArgs(state, node)], { detached: true, stdio: ['ignore', fd, fd] });
    pid = child.pid;
    child.unref();
  } finally {
    closeSync(fd);
  }
  if (pid === undefined) throw new Error(`node ${node.id}: could not spawn ${CLI_BIN}`);
  node.pid = pid;
  await saveState(dir, state);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const fresh = readFileSync(node.log).subarray(logOffset).toString('utf8');
    if (fresh.split('\n').some((line) => line.startsWith('{') && line.includes('"msg":"node ready"'))) return;
    if (!isAlive(node)) throw new Error(`node ${node.id} exited before it was ready; last lines of ${node.log}:\n${lastLines(node.log, 20)}`);
    if (Date.now() > deadline) throw new Error(`node ${node.id} (pid ${pid}) not ready within ${READY_TIMEOUT_MS} ms; it is still running. Last lines of ${node.log}:\n${lastLines(node.log, 20)}`);
    await sleep(100);
  }
}

/** Sends `signal` to the node's process and waits until it is gone. */
async function signalNode(dir: string, state: ClusterState, node: NodeState, signal: NodeJS.Signals): Promise<boolean> {
  if (!isAlive(node)) {
    node.pid = null;
    await saveState(dir, state);
    return false;
  }
  process.kill(node.pid!, signal);
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(node)) {
    if (Date.now() > deadline) throw new Error(`node ${node.id} (pid ${node.pid}) still runs ${STOP_TIMEOUT_MS} ms after ${signal}`);
    await sleep(50);
  }
  node.pid = null;
  await saveState(dir, state);
  return true;
}

function findNode(state: ClusterState, id: string): NodeState {
  const node = state.nodes.find((n) => String(n.id) === id);
  if (node === undefined) throw new Error(`no node ${id}; nodes: ${state.nodes.map((n) => n.id).join(', ')}`);
  return node;
}

function bootstrapLines(state: ClusterState): string {
  const brokers = state.nodes.filter((n) => n.role === 'broker');
  const grpc = brokers.map((n) => `127.0.0.1:${n.grpcPort}`).join(',');
  const lines = [`gRPC bootstrap:  ${grpc}`, `  export RIVULET_BOOTSTRAP=${grpc}`];
  if (brokers.some((n) => n.kafkaPort > 0)) lines.push(`Kafka bootstrap: ${brokers.map((n) => `127.0.0.1:${n.kafkaPort}`).join(',')}`);
  lines.push(`controller quorum: ${state.quorum}`);
  return lines.join('\n');
}

async function createState(dir: string, controllers: number, brokers: number, kafka: boolean, clusterId: string, extraArgs: string[]): Promise<ClusterState> {
  const controllerIds = Array.from({ length: controllers }, (_, i) => 1001 + i);
  const brokerIds = Array.from({ length: brokers }, (_, i) => 1 + i);
  const perNode = (role: Role): number => (role === 'broker' && kafka ? 3 : 2);
  const ids: [number, Role][] = [...controllerIds.map((id): [number, Role] => [id, 'controller']), ...brokerIds.map((id): [number, Role] => [id, 'broker'])];
  const ports = await distinctFreePorts(ids.reduce((sum, [, role]) => sum + perNode(role), 0));
  const nodes = ids.map(([id, role]): NodeState => {
    const [grpcPort, httpPort, kafkaPort] = ports.splice(0, perNode(role));
    return { id, role, grpcPort: grpcPort!, httpPort: httpPort!, kafkaPort: kafkaPort ?? -1, dataDir: join(dir, `node-${id}`), log: join(dir, `node-${id}.log`), pid: null };
  });
  const quorum = nodes
    .filter((n) => n.role === 'controller')
    .map((n) => `${n.id}@127.0.0.1:${n.grpcPort}`)
    .join(',');
  return { version: 1, clusterId, quorum, extraArgs, nodes };
}

function positiveInteger(name: string, min: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return parsed;
  };
}

const dirOption = (): Option => new Option('--dir <path>', 'the folder holding every node and cluster.json').default('./local-cluster');

interface StartOptions {
  readonly dir: string;
  readonly controllers: number;
  readonly brokers: number;
  readonly kafka?: boolean;
  readonly clusterId: string;
  readonly extraArgs?: string;
}

async function start(options: StartOptions): Promise<void> {
  if (!existsSync(CLI_BIN)) throw new Error(`${CLI_BIN} is missing: build first with npx tsc -b`);
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  let state: ClusterState;
  if (existsSync(statePath(dir))) {
    state = await loadState(dir);
    console.log(`${dir} holds a cluster of ${state.nodes.length} nodes: starting those not running (--controllers, --brokers and --kafka apply to new folders only)`);
  } else {
    const extraArgs = options.extraArgs?.trim() ? options.extraArgs.trim().split(/\s+/) : [];
    state = await createState(dir, options.controllers, options.brokers, options.kafka === true, options.clusterId, extraArgs);
    await saveState(dir, state);
  }
  const pending = state.nodes.filter((n) => !isAlive(n));
  // Controllers first (ready as soon as they listen), then brokers, which wait to be unfenced by the quorum.
  for (const role of ['controller', 'broker'] as const) {
    await Promise.all(
      pending
        .filter((n) => n.role === role)
        .map(async (n) => {
          await startNode(dir, state, n);
          console.log(`started ${role} ${n.id} (pid ${n.pid}) gRPC 127.0.0.1:${n.grpcPort}, log ${n.log}`);
        }),
    );
  }
  console.log(bootstrapLines(state));
}

async function stop(id: string | undefined, options: { dir: string }): Promise<void> {
  const dir = resolve(options.dir);
  const state = await loadState(dir);
  const targets = id !== undefined ? [findNode(state, id)] : state.nodes;
  // Brokers first, so their controlled shutdown still finds an active controller.
  for (const role of ['broker', 'controller'] as const) {
    await Promise.all(
      targets
        .filter((n) => n.role === role)
        .map(async (n) => {
          const pid = n.pid;
          console.log((await signalNode(dir, state, n, 'SIGTERM')) ? `stopped ${role} ${n.id} (pid ${pid})` : `${role} ${n.id} was not running`);
        }),
    );
  }
}

async function kill(id: string, options: { dir: string }): Promise<void> {
  const dir = resolve(options.dir);
  const state = await loadState(dir);
  const node = findNode(state, id);
  const pid = node.pid;
  console.log((await signalNode(dir, state, node, 'SIGKILL')) ? `killed ${node.role} ${node.id} (pid ${pid})` : `${node.role} ${node.id} was not running`);
}

async function restart(id: string, options: { dir: string }): Promise<void> {
  const dir = resolve(options.dir);
  const state = await loadState(dir);
  const node = findNode(state, id);
  if (await signalNode(dir, state, node, 'SIGTERM')) console.log(`stopped ${node.role} ${node.id}`);
  await startNode(dir, state, node);
  console.log(`started ${node.role} ${node.id} (pid ${node.pid}) gRPC 127.0.0.1:${node.grpcPort}, log ${node.log}`);
}

async function status(options: { dir: string }): Promise<number> {
  const dir = resolve(options.dir);
  const state = await loadState(dir);
  const rows = [['ID', 'ROLE', 'PROCESS', 'PID', 'GRPC', 'KAFKA', 'HTTP', 'LOG']];
  for (const n of state.nodes) {
    const alive = isAlive(n);
    rows.push([String(n.id), n.role, alive ? 'running' : 'down', alive ? String(n.pid) : '-', `127.0.0.1:${n.grpcPort}`, n.kafkaPort > 0 ? `127.0.0.1:${n.kafkaPort}` : '-', `127.0.0.1:${n.httpPort}`, n.log]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(`Local cluster ${state.clusterId} in ${dir}`);
  console.log(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n'));
  const live = state.nodes.filter((n) => n.role === 'broker' && isAlive(n));
  if (live.length === 0) {
    console.log('\nno broker is running: nothing to ask for the cluster status');
    return 1;
  }
  console.log('');
  const bootstrap = live.map((n) => `127.0.0.1:${n.grpcPort}`).join(',');
  const result = spawnSync(process.execPath, [CLI_BIN, 'cluster', 'status', '--bootstrap', bootstrap], { stdio: 'inherit' });
  return result.status ?? 1;
}

async function main(argv: readonly string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('cluster.ts').description('a local Rivulet cluster: controllers and brokers as processes on loopback').showHelpAfterError();
  program
    .command('start')
    .description('start a new cluster in --dir, or the stopped nodes of the cluster already there; prints the bootstrap addresses')
    .addOption(dirOption())
    .option('--controllers <n>', 'controller-only nodes, ids 1001, 1002, …', positiveInteger('--controllers', 1), 3)
    .option('--brokers <n>', 'broker-only nodes, ids 1, 2, …', positiveInteger('--brokers', 1), 3)
    .option('--kafka', 'brokers also open a Kafka listener')
    .option('--cluster-id <id>', 'cluster id', 'local-cluster')
    .option('--extra-args <flags>', 'more `rivulet start` flags for every node, e.g. "--default-replication-factor 3"')
    .action(async (options: StartOptions) => start(options));
  program
    .command('stop')
    .description('SIGTERM one node (or every node, brokers first) and wait until it is gone')
    .argument('[id]')
    .addOption(dirOption())
    .action(async (id: string | undefined, options: { dir: string }) => stop(id, options));
  program
    .command('kill')
    .description('SIGKILL one node and wait until it is gone')
    .argument('<id>')
    .addOption(dirOption())
    .action(async (id: string, options: { dir: string }) => kill(id, options));
  program
    .command('restart')
    .description('stop one node (if running) and start it again on its ports, with its data')
    .argument('<id>')
    .addOption(dirOption())
    .action(async (id: string, options: { dir: string }) => restart(id, options));
  program
    .command('status')
    .description('which node processes run, then `rivulet cluster status` from a running broker')
    .addOption(dirOption())
    .action(async (options: { dir: string }) => {
      exitCode = await status(options);
    });
  await program.parseAsync([...argv], { from: 'user' });
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`cluster: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
