import { mkdir, rm } from 'node:fs/promises';
import type { SeededRandom } from '@rivulet/common';
import type { Admin, PartitionInfo } from '@rivulet/client';
import { waitFor, type ClusterNode, type History, type LocalCluster } from '@rivulet/testkit';

/** What a fault acts on: the cluster, an admin client to find leaders, the history and the seeded PRNG. */
export interface FaultContext {
  readonly cluster: LocalCluster;
  readonly admin: Admin;
  readonly history: History;
  readonly random: SeededRandom;
  readonly topic: string;
  readonly partitions: number;
  /** How long a fault lasts (down, paused or cut), ms. */
  readonly faultMs: number;
  readonly log: (message: string) => void;
}

/** A fault: it records its own fault-start and fault-end and heals before it returns. */
export interface Fault {
  readonly name: string;
  run(ctx: FaultContext): Promise<void>;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Session timeout (2 s) plus a fencing check, a Raft commit and a metadata round trip, with slack for 2 loaded cores. */
const HEAL_DEADLINE_MS = 45_000;

export async function partitionInfos(ctx: Pick<FaultContext, 'admin' | 'topic'>): Promise<PartitionInfo[]> {
  const metadata = await ctx.admin.metadata([ctx.topic]);
  return [...metadata.topics.find((t) => t.name === ctx.topic)!.partitions].sort((a, b) => a.partition - b.partition);
}

/** Waits until every broker runs and every partition has a leader and its full ISR. */
export async function waitHealthy(ctx: Pick<FaultContext, 'admin' | 'topic' | 'cluster' | 'partitions'>, timeoutMs = HEAL_DEADLINE_MS): Promise<PartitionInfo[]> {
  const brokers = ctx.cluster.brokers().length;
  return waitFor(
    'every partition led and fully in sync',
    async () => {
      const infos = await partitionInfos(ctx);
      return infos.length === ctx.partitions && infos.every((p) => p.leaderId >= 0 && p.isr.length === Math.min(brokers, p.replicas.length)) ? infos : undefined;
    },
    timeoutMs,
    200,
  );
}

/** A seeded choice of a partition, and its leader's node (waiting for it to have one). */
export async function pickLeader(ctx: FaultContext): Promise<{ partition: number; node: ClusterNode; info: PartitionInfo }> {
  const partition = ctx.random.nextInt(ctx.partitions);
  const info = await waitFor(`a leader of partition ${partition}`, async () => (await partitionInfos(ctx)).find((p) => p.partition === partition && p.leaderId >= 0), HEAL_DEADLINE_MS, 200);
  return { partition, node: ctx.cluster.node(info.leaderId), info };
}

/** kill -9 of a (seeded) partition's leader; restarted after faultMs. */
export const killLeader: Fault = {
  name: 'kill-leader',
  async run(ctx) {
    const { partition, node } = await pickLeader(ctx);
    ctx.history.faultStart(this.name, `broker ${node.id}, leader of p${partition}`);
    ctx.log(`kill -9 broker ${node.id} (leader of p${partition})`);
    await node.kill();
    await sleep(ctx.faultMs);
    await node.start();
    ctx.history.faultEnd(this.name);
  },
};

/** SIGSTOP of a (seeded) partition's leader for faultMs (longer than the 2 s session), then SIGCONT: it wakes up still thinking it leads. */
export const pauseLeader: Fault = {
  name: 'pause-leader',
  async run(ctx) {
    const { partition, node } = await pickLeader(ctx);
    ctx.history.faultStart(this.name, `broker ${node.id}, leader of p${partition}`);
    ctx.log(`SIGSTOP broker ${node.id} (leader of p${partition}) for ${ctx.faultMs} ms`);
    node.pause();
    try {
      await sleep(ctx.faultMs);
    } finally {
      node.resume();
    }
    ctx.history.faultEnd(this.name);
  },
};

/**
 * Cuts a (seeded) partition's leader off from every controller for faultMs; clients and other
 * brokers still reach it. On loopback through its TcpProxies (`controllerProxies`), in netns mode
 * with iptables rules in its namespace.
 */
export const cutLeaderFromControllers: Fault = {
  name: 'cut-from-controllers',
  async run(ctx) {
    const { partition, node } = await pickLeader(ctx);
    const net = ctx.cluster.network;
    ctx.history.faultStart(this.name, `broker ${node.id}, leader of p${partition}`);
    ctx.log(`cut broker ${node.id} (leader of p${partition}) from the controllers for ${ctx.faultMs} ms`);
    try {
      if (net !== undefined) await net.cut(node.id, ctx.cluster.controllers().map((n) => n.id));
      else node.cutFromControllers(true);
      await sleep(ctx.faultMs);
    } finally {
      if (net !== undefined) await net.heal(node.id);
      else node.cutFromControllers(false);
    }
    ctx.history.faultEnd(this.name);
  },
};

/** The active controller, as the running controllers answer DescribeQuorum. */
export async function activeController(ctx: FaultContext): Promise<ClusterNode> {
  const controllers = ctx.cluster.controllers().filter((n) => n.pid !== undefined);
  const id = await waitFor(
    'an active controller',
    async () => {
      const quorum = await ctx.admin.describeQuorum({ controllers: controllers.map((n) => ({ nodeId: n.id, address: n.grpcAddress })), timeoutMs: 2000 });
      return quorum.active?.nodeId;
    },
    HEAL_DEADLINE_MS,
    200,
  );
  return ctx.cluster.node(id);
}

/** kill -9 of the active controller; restarted after faultMs. */
export const killActiveController: Fault = {
  name: 'kill-active-controller',
  async run(ctx) {
    const node = await activeController(ctx);
    ctx.history.faultStart(this.name, `controller ${node.id}`);
    ctx.log(`kill -9 active controller ${node.id}`);
    await node.kill();
    await sleep(ctx.faultMs);
    await node.start();
    ctx.history.faultEnd(this.name);
  },
};

/** SIGTERM of every broker in turn (seeded order), each restarted and the cluster back in sync before the next. */
export const rollingRestart: Fault = {
  name: 'rolling-restart',
  async run(ctx) {
    const brokers = [...ctx.cluster.brokers()];
    for (let i = brokers.length - 1; i > 0; i--) {
      const j = ctx.random.nextInt(i + 1);
      [brokers[i], brokers[j]] = [brokers[j]!, brokers[i]!];
    }
    for (const node of brokers) {
      ctx.history.faultStart(this.name, `broker ${node.id}`);
      ctx.log(`rolling restart: SIGTERM broker ${node.id}`);
      await node.stop();
      await node.start();
      ctx.history.faultEnd(this.name);
      await waitHealthy(ctx);
    }
  },
};

/** kill -9 of a follower of a (seeded) partition, its data directory deleted, then started again empty. */
export const wipeFollower: Fault = {
  name: 'wipe-follower',
  async run(ctx) {
    const { partition, info } = await pickLeader(ctx);
    const followers = info.replicas.filter((id) => id !== info.leaderId);
    const node = ctx.cluster.node(followers[ctx.random.nextInt(followers.length)]!);
    ctx.history.faultStart(this.name, `broker ${node.id}, follower of p${partition}`);
    ctx.log(`kill -9 broker ${node.id} (follower of p${partition}), wipe ${node.dataDir}`);
    await node.kill();
    await rm(node.dataDir, { recursive: true, force: true });
    await mkdir(node.dataDir, { recursive: true });
    await sleep(ctx.faultMs);
    await node.start();
    ctx.history.faultEnd(this.name);
  },
};

/** Each round, one fault of `faults` chosen by the seeded PRNG (for long runs that mix everything). */
export function oneOf(faults: readonly Fault[]): Fault {
  return {
    name: 'one-of',
    async run(ctx) {
      const fault = faults[ctx.random.nextInt(faults.length)]!;
      ctx.log(`seeded pick: ${fault.name}`);
      await fault.run(ctx);
    },
  };
}
