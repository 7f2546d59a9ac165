// Measures consumer groups against real `rivulet start` processes:
//  - rebalance: a group of 10 consumers (the TS client, in this process) sharing a 30-partition
//    topic; one member closes (leaving the group) and the time is taken until the 9 left own
//    every partition again, each exactly once; then a member joins again and the same is timed.
//    Cooperative-sticky (the client's default) and eager range, several rounds each;
//  - commits: offset commits to one coordinator (__consumer_offsets with one partition, so every
//    group lives on the same broker), from many groups at once, 64 requests in flight on the
//    client transport's commit stream (OffsetCommitStream, as the consumer commits), each
//    committing `partitions-per-commit` partition offsets; counted as offsets committed per
//    second and requests per second, with latency percentiles.
// Both run on one node (replication factor 1) and on 3 controllers + 3 brokers, where the
// offsets topic has replication factor 3 and every commit waits for all in-sync replicas.
// Prints a table.
// Run: npx tsc -b && npx tsx --conditions=@rivulet/source scripts/bench/groups.ts [--rounds 5] [--commit-seconds 10]
//      [--only rebalance|commits] [--deployment 1|3]; RIVULET_BENCH_NODE_ARGS passes flags to node (e.g. --cpu-prof).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { RivuletClient, type AssignorName, type Consumer } from '../../packages/client/src/index.js';
import { GrpcBrokerTransport } from '../../packages/client/src/transport.js';
import { LocalCluster, NodeProcess, waitFor } from '../../packages/testkit/src/index.js';
import { cpuSeconds } from './process-cpu.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    members: { type: 'string', default: '10' },
    partitions: { type: 'string', default: '30' },
    'commit-seconds': { type: 'string', default: '10' },
    'commit-concurrency': { type: 'string', default: '64' },
    'partitions-per-commit': { type: 'string', default: '1,20' },
    only: { type: 'string' },
    deployment: { type: 'string' },
  },
});
const rounds = Number(args.rounds);
const memberCount = Number(args.members);
const partitionCount = Number(args.partitions);
const commitSeconds = Number(args['commit-seconds']);
const commitConcurrency = Number(args['commit-concurrency']);
const partitionsPerCommit = args['partitions-per-commit'].split(',').map(Number);

const GROUP_ARGS = ['--auto-create-topics', 'false', '--group-initial-rebalance-delay-ms', '0', '--offsets-topic-partitions', '1'];

interface Deployment {
  readonly name: string;
  readonly bootstrap: string[];
  readonly replicationFactor: number;
  /** CPU seconds used so far by every node process of the deployment. */
  nodeCpuSeconds(): number;
  stop(): Promise<void>;
}

async function singleNode(): Promise<Deployment> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rivulet-bench-groups-'));
  const nodeArgs = process.env.RIVULET_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const node = new NodeProcess({ dataDir, nodeArgs, args: GROUP_ARGS });
  await node.start();
  return {
    name: '1 node',
    bootstrap: [node.grpcAddress],
    replicationFactor: 1,
    nodeCpuSeconds: () => cpuSeconds(node.pid!),
    async stop() {
      await node.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function threeBrokers(): Promise<Deployment> {
  const baseDir = mkdtempSync(join(tmpdir(), 'rivulet-bench-groups-cluster-'));
  const nodeArgs = process.env.RIVULET_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const cluster = await LocalCluster.start({ baseDir, controllers: 3, brokers: 3, nodeArgs, args: GROUP_ARGS });
  return {
    name: '3 brokers, RF 3',
    bootstrap: cluster.bootstrap(),
    replicationFactor: 3,
    nodeCpuSeconds: () => [...cluster.nodes.values()].reduce((sum, n) => sum + cpuSeconds(n.pid!), 0),
    async stop() {
      await cluster.stop();
      rmSync(baseDir, { recursive: true, force: true });
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Member {
  readonly consumer: Consumer;
  readonly owned: Set<number>;
  readonly running: Promise<void>;
}

/** Every partition owned by exactly one of `members`, each owning its fair share. */
function isSettled(members: readonly Member[]): boolean {
  const owners = new Map<number, number>();
  for (const member of members) for (const partition of member.owned) owners.set(partition, (owners.get(partition) ?? 0) + 1);
  if (owners.size !== partitionCount || [...owners.values()].some((count) => count !== 1)) return false;
  const fair = Math.floor(partitionCount / members.length);
  return members.every((m) => m.owned.size === fair || m.owned.size === fair + 1);
}

async function rebalanceRounds(deployment: Deployment, assignor: AssignorName): Promise<{ leaveMs: number[]; joinMs: number[] }> {
  const client = new RivuletClient({ bootstrap: deployment.bootstrap, requestTimeoutMs: 10_000 });
  const topic = `rebalance-${assignor}-${Date.now()}`;
  await client.admin().createTopics([{ name: topic, partitions: partitionCount, replicationFactor: deployment.replicationFactor }]);
  const groupId = `bench-${topic}`;
  const start = (): Member => {
    const consumer = client.consumer({ groupId, partitionAssigners: [assignor], sessionTimeoutMs: 10_000, autoOffsetReset: 'earliest', fetchMaxWaitMs: 100 });
    const owned = new Set<number>();
    consumer.subscribe([topic], {
      onPartitionsAssigned: (partitions) => partitions.forEach((p) => owned.add(p.partition)),
      onPartitionsRevoked: (partitions) => partitions.forEach((p) => owned.delete(p.partition)),
      onPartitionsLost: (partitions) => partitions.forEach((p) => owned.delete(p.partition)),
    });
    const running = consumer.run({ eachRecord: () => undefined });
    return { consumer, owned, running };
  };
  const members = Array.from({ length: memberCount }, start);
  await waitFor('the first generation settled', () => isSettled(members) || undefined, 60_000, 5);
  const leaveMs: number[] = [];
  const joinMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const leaving = members.splice(round % members.length, 1)[0]!;
    const leftAt = performance.now();
    await leaving.consumer.close();
    await waitFor('the group settled after a member left', () => isSettled(members) || undefined, 60_000, 2);
    leaveMs.push(performance.now() - leftAt);
    const joinedAt = performance.now();
    members.push(start());
    await waitFor('the group settled after a member joined', () => isSettled(members) || undefined, 60_000, 2);
    joinMs.push(performance.now() - joinedAt);
  }
  for (const member of members) await member.consumer.close();
  await client.close();
  return { leaveMs, joinMs };
}

async function commitThroughput(deployment: Deployment, perRequest: number): Promise<{ offsetsPerSecond: number; requestsPerSecond: number; p50Ms: number; p99Ms: number; nodeCpuUsPerRequest: number; clientCpuUsPerRequest: number }> {
  const client = new RivuletClient({ bootstrap: deployment.bootstrap, requestTimeoutMs: 10_000 });
  const topic = `commits-${Date.now()}`;
  await client.admin().createTopics([{ name: topic, partitions: Math.max(perRequest, 20), replicationFactor: deployment.replicationFactor }]);
  // Every group lives in the one offsets partition, so they share one coordinator.
  const transports = deployment.bootstrap.map((address) => new GrpcBrokerTransport(address, 'bench-commits'));
  const coordinator = await waitFor(
    'the group coordinator',
    async () => {
      const answer = await transports[0]!.findCoordinator({ groupId: 'bench-commits-0' }, 10_000).catch(() => undefined);
      return answer !== undefined && answer.errorCode === 0 ? `${answer.host}:${answer.grpcPort}` : undefined;
    },
    30_000,
    100,
  );
  const transport = new GrpcBrokerTransport(coordinator, 'bench-commits');
  const latencyUs = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const commit = async (groupIndex: number, offset: number): Promise<void> => {
    const response = await transport.offsetCommit(
      {
        groupId: `bench-commits-${groupIndex}`,
        generationId: -1,
        memberId: '',
        groupInstanceId: '',
        retentionTimeMs: -1,
        topics: [{ name: topic, partitions: Array.from({ length: perRequest }, (_, partitionIndex) => ({ partitionIndex, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: '' })) }],
      },
      10_000,
    );
    const failed = response.topics.flatMap((t) => t.partitions).find((p) => p.errorCode !== 0);
    if (failed !== undefined) throw new Error(`commit refused with error ${failed.errorCode}`);
  };
  // Warm up: the coordinator loads, the groups exist.
  for (let i = 0; i < commitConcurrency; i++) await commit(i, 0);
  const deadlineMs = performance.now() + commitSeconds * 1000;
  let requests = 0;
  const startedMs = performance.now();
  const nodeCpuBefore = deployment.nodeCpuSeconds();
  const clientCpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: commitConcurrency }, async (_, lane) => {
      for (let offset = 1; performance.now() < deadlineMs; offset++) {
        const sentMs = performance.now();
        await commit(lane, offset);
        latencyUs.recordValue(Math.round((performance.now() - sentMs) * 1000));
        requests++;
      }
    }),
  );
  const seconds = (performance.now() - startedMs) / 1000;
  const nodeCpuUsPerRequest = ((deployment.nodeCpuSeconds() - nodeCpuBefore) * 1e6) / requests;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const clientCpuUsPerRequest = (clientCpu.user + clientCpu.system) / requests;
  for (const t of [...transports, transport]) t.close();
  await client.close();
  return {
    offsetsPerSecond: (requests * perRequest) / seconds,
    requestsPerSecond: requests / seconds,
    p50Ms: latencyUs.getValueAtPercentile(50) / 1000,
    p99Ms: latencyUs.getValueAtPercentile(99) / 1000,
    nodeCpuUsPerRequest,
    clientCpuUsPerRequest,
  };
}

async function main(): Promise<void> {
  const rows: Record<string, string>[] = [];
  const deployments = args.deployment === '1' ? [singleNode] : args.deployment === '3' ? [threeBrokers] : [singleNode, threeBrokers];
  for (const deploy of deployments) {
    const deployment = await deploy();
    try {
      if (args.only !== 'commits') {
        for (const assignor of ['cooperative-sticky', 'range'] as const) {
          const { leaveMs, joinMs } = await rebalanceRounds(deployment, assignor);
          const sortedLeave = [...leaveMs].sort((a, b) => a - b);
          const sortedJoin = [...joinMs].sort((a, b) => a - b);
          rows.push({
            deployment: deployment.name,
            measure: `rebalance, ${memberCount} members, ${assignor}`,
            result: `leave p50 ${percentile(sortedLeave, 50).toFixed(0)} ms, max ${sortedLeave.at(-1)!.toFixed(0)} ms; join p50 ${percentile(sortedJoin, 50).toFixed(0)} ms, max ${sortedJoin.at(-1)!.toFixed(0)} ms (${rounds} rounds)`,
          });
        }
      }
      if (args.only !== 'rebalance') {
        for (const perRequest of partitionsPerCommit) {
          const figures = await commitThroughput(deployment, perRequest);
          rows.push({
            deployment: deployment.name,
            measure: `commits, ${perRequest} partition(s) per request, ${commitConcurrency} in flight`,
            result: `${Math.round(figures.offsetsPerSecond).toLocaleString('en-US')} offsets/s (${Math.round(figures.requestsPerSecond).toLocaleString('en-US')} requests/s), p50 ${figures.p50Ms.toFixed(1)} ms, p99 ${figures.p99Ms.toFixed(1)} ms; CPU per request: nodes ${Math.round(figures.nodeCpuUsPerRequest)} µs, client ${Math.round(figures.clientCpuUsPerRequest)} µs`,
          });
        }
      }
    } finally {
      await deployment.stop();
    }
  }
  console.table(rows);
}

await main();
