import { RivuletClient, type PartitionInfo } from '@rivulet/client';
import { describeQuorumViews } from './quorum-views.js';
import { activeController, pickLeader, sleep, type Fault, type FaultContext } from './faults.js';

/**
 * Faults of clusters started with `network: 'netns'`: iptables rules in the nodes' own network
 * namespaces (`ctx.cluster.net`). Every drop is silent (no RST, no ICMP): TCP just sees no
 * answers, as in a real partition. Each fault heals itself (flushes the rules) before it returns.
 */

/**
 * Runs `probe` every 250 ms while the fault lasts (never longer: a hanging probe does not delay
 * the heal) until it returns true; it gets a function telling the ms since the fault started.
 */
async function holdFault(ctx: FaultContext, probe?: (elapsed: () => number) => Promise<boolean | void>): Promise<() => Promise<void>> {
  const started = Date.now();
  let over = false;
  const monitor = (async () => {
    if (probe === undefined) return;
    while (!over) {
      try {
        if ((await probe(() => Date.now() - started)) === true) return;
      } catch {
        // a probe may time out against a cut node; try again
      }
      if (!over) await sleep(250);
    }
  })();
  await sleep(ctx.faultMs);
  over = true;
  return () => monitor;
}

/**
 * A partition's state as the given brokers' metadata caches tell it (the first to answer), each
 * asked by a fresh client bootstrapped with that broker alone: a shared client would also send
 * some requests to the cut broker and wait for their timeout.
 */
async function partitionSeenBy(ctx: FaultContext, partition: number, brokerIds: readonly number[]): Promise<PartitionInfo | undefined> {
  const clients = brokerIds.map((id) => new RivuletClient({ bootstrap: [ctx.cluster.node(id).grpcAddress], requestTimeoutMs: 1500 }));
  try {
    return await Promise.any(
      clients.map(async (client) => {
        const metadata = await client.admin().metadata([ctx.topic]);
        const info = metadata.topics.find((t) => t.name === ctx.topic)?.partitions.find((p) => p.partition === partition);
        if (info === undefined) throw new Error(`no p${partition}`);
        return info;
      }),
    );
  } catch {
    return undefined;
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}

function otherBrokers(ctx: FaultContext, ...exclude: number[]): number[] {
  return ctx.cluster
    .brokers()
    .map((n) => n.id)
    .filter((id) => !exclude.includes(id));
}

async function heal(ctx: FaultContext, ...nodeIds: number[]): Promise<void> {
  for (const id of nodeIds) await ctx.cluster.net.heal(id);
}

/** A (seeded) partition's leader broker isolated: it neither receives nor sends anything (clients, brokers, controllers). */
export const isolateLeader: Fault = {
  name: 'isolate-leader',
  async run(ctx) {
    const { partition, node } = await pickLeader(ctx);
    ctx.history.faultStart(this.name, `broker ${node.id}, leader of p${partition}`);
    ctx.log(`isolate broker ${node.id} (leader of p${partition}, ${ctx.cluster.net.address(node.id)}) for ${ctx.faultMs} ms`);
    await ctx.cluster.net.isolate(node.id);
    let monitor: () => Promise<void> = async () => undefined;
    try {
      monitor = await holdFault(ctx, async (elapsed) => {
        const info = await partitionSeenBy(ctx, partition, otherBrokers(ctx, node.id));
        if (info !== undefined && info.leaderId >= 0 && info.leaderId !== node.id) {
          ctx.history.note(`p${partition}: new leader ${info.leaderId} seen ${elapsed()} ms into the isolation of ${node.id}`);
          ctx.log(`p${partition}: new leader ${info.leaderId} seen ${elapsed()} ms into the fault`);
          return true;
        }
      });
    } finally {
      await heal(ctx, node.id);
    }
    ctx.history.faultEnd(this.name);
    await monitor();
  },
};

/**
 * One-way cut of a (seeded) partition's leader from everyone (host included):
 * - `inbound`: it still sends but receives nothing (its heartbeats reach the controller until TCP
 *   stops sending new data behind unacknowledged segments; clients' requests never reach it);
 * - `outbound`: it still receives but sends nothing (produce requests reach it and are appended,
 *   but no answer and no fetch response leaves: the producers see timeouts, the records are
 *   never committed through this leader).
 */
function oneWayLeader(direction: 'inbound' | 'outbound'): Fault {
  return {
    name: direction === 'inbound' ? 'leader-send-only' : 'leader-receive-only',
    async run(ctx) {
      const { partition, node } = await pickLeader(ctx);
      const what = direction === 'inbound' ? 'sends but receives nothing' : 'receives but sends nothing';
      ctx.history.faultStart(this.name, `broker ${node.id}, leader of p${partition}: ${what}`);
      ctx.log(`one-way cut: broker ${node.id} (leader of p${partition}) ${what} for ${ctx.faultMs} ms`);
      if (direction === 'inbound') await ctx.cluster.net.blockInbound(node.id);
      else await ctx.cluster.net.blockOutbound(node.id);
      let monitor: () => Promise<void> = async () => undefined;
      try {
        monitor = await holdFault(ctx, async (elapsed) => {
          const info = await partitionSeenBy(ctx, partition, otherBrokers(ctx, node.id));
          if (info !== undefined && info.leaderId >= 0 && info.leaderId !== node.id) {
            ctx.history.note(`p${partition}: new leader ${info.leaderId} seen ${elapsed()} ms into ${this.name} of ${node.id}`);
            ctx.log(`p${partition}: new leader ${info.leaderId} seen ${elapsed()} ms into the fault`);
            return true;
          }
        });
      } finally {
        await heal(ctx, node.id);
      }
      ctx.history.faultEnd(this.name);
      await monitor();
    },
  };
}

export const leaderSendOnly = oneWayLeader('inbound');
export const leaderReceiveOnly = oneWayLeader('outbound');

/**
 * The replication path between a (seeded) partition's leader and one (seeded) follower cut both
 * ways; both still reach the controllers, clients and the third broker. The leader should drop
 * the follower from the ISR after replica.lag.time.max.ms and go on committing with the rest.
 */
export const cutReplication: Fault = {
  name: 'cut-replication',
  async run(ctx) {
    const { partition, node, info } = await pickLeader(ctx);
    const followers = info.replicas.filter((id) => id !== info.leaderId);
    const follower = followers[ctx.random.nextInt(followers.length)]!;
    ctx.history.faultStart(this.name, `broker ${node.id} (leader of p${partition}) <-> broker ${follower}`);
    ctx.log(`cut replication: broker ${node.id} (leader of p${partition}) <-> broker ${follower} for ${ctx.faultMs} ms`);
    await ctx.cluster.net.cut(node.id, [follower]);
    let monitor: () => Promise<void> = async () => undefined;
    try {
      monitor = await holdFault(ctx, async (elapsed) => {
        const p = await partitionSeenBy(ctx, partition, otherBrokers(ctx, follower));
        if (p !== undefined && !p.isr.includes(follower)) {
          ctx.history.note(`p${partition}: ISR shrank to [${p.isr.join(',')}] (leader ${p.leaderId}) ${elapsed()} ms into the cut`);
          ctx.log(`p${partition}: ISR shrank to [${p.isr.join(',')}] (leader ${p.leaderId}) ${elapsed()} ms into the cut`);
          return true;
        }
      });
    } finally {
      await heal(ctx, node.id);
    }
    ctx.history.faultEnd(this.name);
    await monitor();
  },
};

/**
 * The active controller (Raft leader) cut both ways from the other controllers, or (`brokers`)
 * from every broker while it still reaches its peers. In the first case the two others elect a
 * new active controller and the brokers, which still reach all three, must follow it.
 */
function isolateActiveController(from: 'controllers' | 'brokers'): Fault {
  return {
    name: from === 'controllers' ? 'isolate-active-controller' : 'active-controller-from-brokers',
    async run(ctx) {
      const node = await activeController(ctx);
      const peers = (from === 'controllers' ? ctx.cluster.controllers() : ctx.cluster.brokers()).filter((n) => n.id !== node.id).map((n) => n.id);
      const others = ctx.cluster.controllers().filter((n) => n.id !== node.id);
      ctx.history.faultStart(this.name, `controller ${node.id} cut from ${from} [${peers.join(',')}]`);
      ctx.log(`cut active controller ${node.id} from ${from} [${peers.join(',')}] for ${ctx.faultMs} ms`);
      await ctx.cluster.net.cut(node.id, peers);
      let monitor: () => Promise<void> = async () => undefined;
      let lastFenced = '';
      try {
        monitor = await holdFault(ctx, async (elapsed) => {
          // Ask only the other controllers: the cut one may still believe it leads.
          const views = await describeQuorumViews(ctx, others);
          const active = views.find((v) => v.role === 'leader');
          if (active !== undefined && active.nodeId !== node.id) {
            const fenced = active.brokers.filter((b) => b.state !== 'unfenced').map((b) => `${b.brokerId}:${b.state}`);
            ctx.history.note(`new active controller ${active.nodeId} (term ${active.term}) ${elapsed()} ms into the cut of ${node.id}; brokers not unfenced: [${fenced.join(',')}]`);
            ctx.log(`new active controller ${active.nodeId} (term ${active.term}) ${elapsed()} ms into the cut; brokers not unfenced: [${fenced.join(',')}]`);
            return from === 'controllers';
          }
          if (from === 'brokers') {
            // Nothing should change hands; log fencing the (still active) controller decides.
            const all = await describeQuorumViews(ctx, [node]);
            const v = all[0];
            const fenced = v?.brokers.filter((b) => b.state !== 'unfenced').map((b) => `${b.brokerId}:${b.state}`) ?? [];
            const seen = fenced.join(',');
            if (seen !== lastFenced) {
              lastFenced = seen;
              ctx.history.note(`${elapsed()} ms into the cut: controller ${node.id} (${v?.role}) sees brokers not unfenced: [${seen}]`);
              ctx.log(`${elapsed()} ms into the cut: controller ${node.id} (${v?.role}) sees brokers not unfenced: [${seen}]`);
            }
            return fenced.length === ctx.cluster.brokers().length;
          }
        });
        // What the cut controller itself believes at the end of the cut (it still answers the host).
        const own = (await describeQuorumViews(ctx, [node]).catch(() => []))[0];
        if (own !== undefined) {
          ctx.history.note(`end of the cut: controller ${node.id} sees itself as ${own.role}, leader ${own.leaderId}, term ${own.term}`);
          ctx.log(`end of the cut: controller ${node.id} sees itself as ${own.role}, leader ${own.leaderId}, term ${own.term}`);
        }
      } finally {
        await heal(ctx, node.id);
      }
      ctx.history.faultEnd(this.name);
      await monitor();
      const after = await activeController(ctx);
      ctx.log(`after the heal: active controller ${after.id}`);
    },
  };
}

export const isolateActiveControllerFromControllers = isolateActiveController('controllers');
export const isolateActiveControllerFromBrokers = isolateActiveController('brokers');
