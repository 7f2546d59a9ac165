import { RivuletClient, type PartitionInfo } from '@rivulet/client';
import type { ClusterNode, LinkShape } from '@rivulet/testkit';
import { describeQuorumViews } from './quorum-views.js';
import { activeController, partitionInfos, pickLeader, sleep, type Fault, type FaultContext } from './faults.js';

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
 * The topic's partitions as the given brokers' metadata caches tell them (the first to answer),
 * each broker asked by a fresh client bootstrapped with that broker alone: a shared client would
 * also send some requests to a cut broker and wait for their timeout.
 */
async function partitionsSeenBy(ctx: FaultContext, brokerIds: readonly number[]): Promise<PartitionInfo[] | undefined> {
  const clients = brokerIds.map((id) => new RivuletClient({ bootstrap: [ctx.cluster.node(id).grpcAddress], requestTimeoutMs: 1500 }));
  try {
    return await Promise.any(
      clients.map(async (client) => {
        const metadata = await client.admin().metadata([ctx.topic]);
        const partitions = metadata.topics.find((t) => t.name === ctx.topic)?.partitions;
        if (partitions === undefined || partitions.length === 0) throw new Error(`no partitions of ${ctx.topic}`);
        return [...partitions].sort((a, b) => a.partition - b.partition);
      }),
    );
  } catch {
    return undefined;
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}

async function partitionSeenBy(ctx: FaultContext, partition: number, brokerIds: readonly number[]): Promise<PartitionInfo | undefined> {
  return (await partitionsSeenBy(ctx, brokerIds))?.find((p) => p.partition === partition);
}

function ids(nodes: readonly ClusterNode[]): number[] {
  return nodes.map((n) => n.id);
}

function otherBrokers(ctx: FaultContext, ...exclude: number[]): number[] {
  return ids(ctx.cluster.brokers()).filter((id) => !exclude.includes(id));
}

/** Something a probe saw: into the history (for the saved run) and onto the console. */
function observe(ctx: FaultContext, text: string): void {
  ctx.history.note(text);
  ctx.log(text);
}

type Probe = (elapsed: () => number) => Promise<boolean | void>;

/**
 * Records the fault's start, applies it (`apply`: rules or rate limits in the namespaces of
 * `nodeIds`), holds it for faultMs while `probe` watches, then heals those nodes (also when
 * applying or probing failed) and records the end.
 */
async function netnsFault(
  ctx: FaultContext,
  fault: { name: string; detail: string; nodeIds: readonly number[]; apply: () => Promise<void>; probe?: Probe; beforeHeal?: () => Promise<void> },
): Promise<void> {
  ctx.history.faultStart(fault.name, fault.detail);
  ctx.log(`${fault.name}: ${fault.detail} for ${ctx.faultMs} ms`);
  let monitor: () => Promise<void> = async () => undefined;
  try {
    await fault.apply();
    monitor = await holdFault(ctx, fault.probe);
    await fault.beforeHeal?.();
  } finally {
    for (const id of fault.nodeIds) await ctx.cluster.net.heal(id);
  }
  ctx.history.faultEnd(fault.name);
  await monitor();
}

/** A probe that stops once another broker's metadata names a new leader of `partition` (not `oldLeader`). */
function newLeaderProbe(ctx: FaultContext, faultName: string, partition: number, oldLeader: number): Probe {
  return async (elapsed) => {
    const info = await partitionSeenBy(ctx, partition, otherBrokers(ctx, oldLeader));
    if (info !== undefined && info.leaderId >= 0 && info.leaderId !== oldLeader) {
      observe(ctx, `p${partition}: new leader ${info.leaderId} seen ${elapsed()} ms into ${faultName} of ${oldLeader}`);
      return true;
    }
  };
}

/**
 * A probe that watches for the whole fault: each time the state seen by `controllerIds` (the
 * active controller, the brokers it has not unfenced) or by `brokerIds` (every partition's
 * leader and ISR, from the first broker to answer) changes, it is noted and logged.
 */
function watchCluster(ctx: FaultContext, controllerIds: readonly number[], brokerIds: readonly number[]): Probe {
  let last = '';
  return async (elapsed) => {
    const controllers = controllerIds.map((id) => ctx.cluster.node(id));
    const [views, infos] = await Promise.all([describeQuorumViews(ctx, controllers).catch(() => []), partitionsSeenBy(ctx, brokerIds)]);
    const active = views.find((v) => v.role === 'leader');
    const controller = active === undefined ? 'no active controller' : `active controller ${active.nodeId} (not unfenced: [${active.brokers.filter((b) => b.state !== 'unfenced').map((b) => b.brokerId)}])`;
    const partitions = infos === undefined ? 'no broker answered' : infos.map((p) => `p${p.partition} leader ${p.leaderId} isr [${p.isr.join(',')}]`).join(', ');
    const state = `${controller}; ${partitions}`;
    if (state === last) return;
    last = state;
    observe(ctx, `${elapsed()} ms in: ${state}`);
  };
}

/**
 * A fault on a (seeded) partition's leader broker, with rules or limits in its namespace only:
 * `spec` says what it does (detail), how (apply) and what to watch while it lasts (probe).
 */
function leaderFault(name: string, spec: (ctx: FaultContext, partition: number, node: ClusterNode) => { detail: string; apply: () => Promise<void>; probe: Probe }): Fault {
  return {
    name,
    async run(ctx) {
      const { partition, node } = await pickLeader(ctx);
      await netnsFault(ctx, { name, nodeIds: [node.id], ...spec(ctx, partition, node) });
    },
  };
}

/** The watch of a fault on one broker: every controller, and the brokers but that one. */
function watchAround(ctx: FaultContext, brokerId: number): Probe {
  return watchCluster(ctx, ids(ctx.cluster.controllers()), otherBrokers(ctx, brokerId));
}

/** A (seeded) partition's leader broker isolated: it neither receives nor sends anything (clients, brokers, controllers). */
export const isolateLeader: Fault = leaderFault('isolate-leader', (ctx, partition, node) => ({
  detail: `broker ${node.id}, leader of p${partition} (${ctx.cluster.net.address(node.id)})`,
  apply: () => ctx.cluster.net.isolate(node.id),
  probe: newLeaderProbe(ctx, 'the isolation', partition, node.id),
}));

/**
 * One-way cut of a (seeded) partition's leader from everyone (host included):
 * - `inbound`: it still sends but receives nothing (its heartbeats reach the controller until TCP
 *   stops sending new data behind unacknowledged segments; clients' requests never reach it);
 * - `outbound`: it still receives but sends nothing (produce requests reach it and are appended,
 *   but no answer and no fetch response leaves: the producers see timeouts, the records are
 *   never committed through this leader).
 */
function oneWayLeader(direction: 'inbound' | 'outbound'): Fault {
  const name = direction === 'inbound' ? 'leader-send-only' : 'leader-receive-only';
  const what = direction === 'inbound' ? 'sends but receives nothing' : 'receives but sends nothing';
  return leaderFault(name, (ctx, partition, node) => ({
    detail: `broker ${node.id}, leader of p${partition}: ${what}`,
    apply: () => (direction === 'inbound' ? ctx.cluster.net.blockInbound(node.id) : ctx.cluster.net.blockOutbound(node.id)),
    probe: newLeaderProbe(ctx, name, partition, node.id),
  }));
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
    await netnsFault(ctx, {
      name: this.name,
      detail: `broker ${node.id} (leader of p${partition}) <-> broker ${follower}`,
      nodeIds: [node.id],
      apply: () => ctx.cluster.net.cut(node.id, [follower]),
      probe: async (elapsed) => {
        const p = await partitionSeenBy(ctx, partition, otherBrokers(ctx, follower));
        if (p !== undefined && !p.isr.includes(follower)) {
          observe(ctx, `p${partition}: ISR shrank to [${p.isr.join(',')}] (leader ${p.leaderId}) ${elapsed()} ms into the cut`);
          return true;
        }
      },
    });
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
      const peers = ids((from === 'controllers' ? ctx.cluster.controllers() : ctx.cluster.brokers()).filter((n) => n.id !== node.id));
      const others = ctx.cluster.controllers().filter((n) => n.id !== node.id);
      let lastFenced = '';
      await netnsFault(ctx, {
        name: this.name,
        detail: `controller ${node.id} cut from ${from} [${peers.join(',')}]`,
        nodeIds: [node.id],
        apply: () => ctx.cluster.net.cut(node.id, peers),
        probe: async (elapsed) => {
          // Ask only the other controllers: the cut one may still believe it leads.
          const views = await describeQuorumViews(ctx, others);
          const active = views.find((v) => v.role === 'leader');
          if (active !== undefined && active.nodeId !== node.id) {
            const fenced = active.brokers.filter((b) => b.state !== 'unfenced').map((b) => `${b.brokerId}:${b.state}`);
            observe(ctx, `new active controller ${active.nodeId} (term ${active.term}) ${elapsed()} ms into the cut of ${node.id}; brokers not unfenced: [${fenced.join(',')}]`);
            return from === 'controllers';
          }
          if (from === 'brokers') {
            // Nothing should change hands; log fencing the (still active) controller decides.
            const v = (await describeQuorumViews(ctx, [node]))[0];
            const fenced = v?.brokers.filter((b) => b.state !== 'unfenced').map((b) => `${b.brokerId}:${b.state}`) ?? [];
            const seen = fenced.join(',');
            if (seen !== lastFenced) {
              lastFenced = seen;
              observe(ctx, `${elapsed()} ms into the cut: controller ${node.id} (${v?.role}) sees brokers not unfenced: [${seen}]`);
            }
            return fenced.length === ctx.cluster.brokers().length;
          }
        },
        beforeHeal: async () => {
          // What the cut controller itself believes at the end of the cut (it still answers the host).
          const own = (await describeQuorumViews(ctx, [node]).catch(() => []))[0];
          if (own !== undefined) observe(ctx, `end of the cut: controller ${node.id} sees itself as ${own.role}, leader ${own.leaderId}, term ${own.term}`);
        },
      });
      const after = await activeController(ctx);
      ctx.log(`after the heal: active controller ${after.id}`);
    },
  };
}

export const isolateActiveControllerFromControllers = isolateActiveController('controllers');
export const isolateActiveControllerFromBrokers = isolateActiveController('brokers');

/**
 * A (seeded) partition's leader on a lossy link: every packet it sends or receives, whoever the
 * peer, is dropped with `probability`. TCP still gets through, with retransmissions and backoff;
 * the watch notes leader, ISR and fencing changes as they happen.
 */
export function lossyLeader(probability: number): Fault {
  const percent = Math.round(probability * 100);
  return leaderFault(`lossy-leader-${percent}pct`, (ctx, partition, node) => ({
    detail: `broker ${node.id}, leader of p${partition}: ${percent}% of packets lost each way`,
    apply: () => ctx.cluster.net.lossy(node.id, probability),
    probe: watchAround(ctx, node.id),
  }));
}

/**
 * A link slow enough that a leader's followers fall behind (2 KB/s each way; the workload
 * alone needs more) yet TCP keeps working: ISRs shrink within seconds.
 */
export const SLOW_LINK: LinkShape = { rateKbit: 16, burstBytes: 4000, latencyMs: 2000 };

/**
 * A (seeded) partition's leader on a slow link: a token bucket of `shape.rateKbit` each way.
 * Its followers' fetches, its produce answers and its heartbeats all queue behind each other.
 */
export function slowLeader(shape: LinkShape): Fault {
  return leaderFault('slow-leader', (ctx, partition, node) => ({
    detail: `broker ${node.id}, leader of p${partition}: ${shape.rateKbit} kbit/s each way, burst ${shape.burstBytes} B, queue ${shape.latencyMs} ms`,
    apply: () => ctx.cluster.net.shape(node.id, shape),
    probe: watchAround(ctx, node.id),
  }));
}

/**
 * The clients cannot reach a (seeded) partition's leader, while every broker and controller
 * still can: the path between the host (where the workload, the admin client and the probes run)
 * and the leader's namespace is cut both ways. The leader keeps its session, so it should stay
 * leader and its partitions be unavailable to the clients for the cut; the watch (asking the other
 * brokers) shows whether it does.
 */
export const clientCutLeader: Fault = leaderFault('client-cut-leader', (ctx, partition, node) => ({
  detail: `clients cut from broker ${node.id}, leader of p${partition}`,
  apply: () => ctx.cluster.net.cutHost(node.id),
  probe: watchAround(ctx, node.id),
}));

/**
 * The network splits in two, both ways: a (seeded) controller and a (seeded) broker on one side,
 * the other two controllers and two brokers on the other. The clients (the host) still reach both
 * sides. The majority must elect an active controller if it lost it, fence the minority broker
 * and lead its partitions; the minority broker, cut from the quorum, must acknowledge nothing
 * that the majority does not also hold (the checker's lost-ack and conflicting-offset).
 */
export const splitHalves: Fault = {
  name: 'split-halves',
  async run(ctx) {
    const controllers = ids(ctx.cluster.controllers());
    const brokers = ids(ctx.cluster.brokers());
    const minority = [controllers[ctx.random.nextInt(controllers.length)]!, brokers[ctx.random.nextInt(brokers.length)]!];
    const majority = [...controllers, ...brokers].filter((id) => !minority.includes(id));
    const led = (await partitionInfos(ctx)).filter((p) => p.leaderId === minority[1]).map((p) => `p${p.partition}`);
    await netnsFault(ctx, {
      name: this.name,
      detail: `[${minority.join(',')}] | [${majority.join(',')}]; broker ${minority[1]} led [${led.join(',')}]`,
      nodeIds: minority,
      apply: async () => {
        for (const id of minority) await ctx.cluster.net.cut(id, majority);
      },
      // The majority side's view; the minority controller may still believe it is active.
      probe: watchCluster(
        ctx,
        majority.filter((id) => controllers.includes(id)),
        majority.filter((id) => brokers.includes(id)),
      ),
      beforeHeal: async () => {
        const seen = await partitionsSeenBy(ctx, [minority[1]!]);
        const leads = seen?.filter((p) => p.leaderId === minority[1]).map((p) => `p${p.partition} isr [${p.isr.join(',')}]`);
        observe(ctx, `end of the split: broker ${minority[1]} ${seen === undefined ? 'did not answer' : `believes it leads [${leads!.join('; ')}]`}`);
      },
    });
  },
};
