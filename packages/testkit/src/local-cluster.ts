import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { NetnsNetwork } from './netns.js';
import { NodeProcess } from './node-process.js';
import { TcpProxy } from './tcp-proxy.js';

export type ClusterRole = 'controller' | 'broker';

export interface LocalClusterOptions {
  /** Each node's data directory is `<baseDir>/node-<id>`. */
  readonly baseDir: string;
  /** Controller-only nodes, ids 1001, 1002, … */
  readonly controllers: number;
  /** Broker-only nodes, ids 1, 2, … */
  readonly brokers: number;
  /** Extra `rivulet start` flags for every node. */
  readonly args?: readonly string[];
  /** Brokers open a Kafka listener on a free port. */
  readonly kafka?: boolean;
  /**
   * Each broker reaches the controllers through its own TcpProxy, so a test can cut one
   * broker off from the quorum while clients still reach it.
   */
  readonly controllerProxies?: boolean;
  readonly startTimeoutMs?: number;
  /** Flags for the node runtime of every process (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /**
   * 'loopback' (default): every node on 127.0.0.1 with free ports. 'netns': every node in its
   * own network namespace with its own 198.18.S.i address (fixed ports: gRPC 9093, Kafka 9092),
   * all bridged together with the host (198.18.S.254), so `cluster.net` can cut any link, both
   * ways or one way. Needs root (see `netnsSupport()`); not combinable with controllerProxies.
   */
  readonly network?: 'loopback' | 'netns';
}

/** Ports every node uses in netns mode (each node has its own address). */
const NETNS_GRPC_PORT = 9093;
const NETNS_KAFKA_PORT = 9092;

/** One node of a LocalCluster: its process, id, role and (for brokers) its controller proxies. */
export class ClusterNode extends NodeProcess {
  constructor(
    readonly id: number,
    readonly role: ClusterRole,
    readonly dataDir: string,
    args: string[],
    startTimeoutMs: number,
    readonly proxies: readonly TcpProxy[],
    nodeArgs: readonly string[] = [],
    /** In netns mode: the node's namespace and address. */
    readonly netns?: { readonly namespace: string; readonly address: string; readonly commandPrefix: readonly string[] },
  ) {
    super({ dataDir, args, startTimeoutMs, nodeArgs: [...nodeArgs], ...(netns ? { commandPrefix: [...netns.commandPrefix] } : {}) });
  }

  /** Cuts this broker off from every controller (silently), or heals the cut. */
  cutFromControllers(cut: boolean): void {
    if (this.proxies.length === 0) throw new Error(`node ${this.id} was not started with controller proxies`);
    for (const proxy of this.proxies) {
      if (cut) proxy.cut();
      else proxy.heal();
    }
  }
}

/**
 * A real cluster on loopback for tests, benchmarks and the launcher script: controller-only
 * and broker-only `rivulet start` processes, each with its own data directory. Every node
 * gets fixed free ports chosen at start (the quorum list names the controllers'), so a
 * restarted node is reachable where it was.
 */
export class LocalCluster {
  readonly nodes = new Map<number, ClusterNode>();
  private readonly proxies: TcpProxy[] = [];

  private constructor(
    readonly quorum: string,
    /** The namespaces in netns mode (for faults: isolate, blockInbound, blockOutbound, cut, heal); undefined on loopback. */
    readonly network: NetnsNetwork | undefined = undefined,
  ) {}

  /** The namespaces of a netns-mode cluster; throws on loopback. */
  get net(): NetnsNetwork {
    if (this.network === undefined) throw new Error("this cluster runs on loopback; start it with network: 'netns' to cut links");
    return this.network;
  }

  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    if (options.network === 'netns') return LocalCluster.startNetns(options);
    const controllerIds = Array.from({ length: options.controllers }, (_, i) => 1001 + i);
    const ports = new Map<number, number>();
    for (const id of controllerIds) ports.set(id, await freePort());
    const quorum = controllerIds.map((id) => `${id}@127.0.0.1:${ports.get(id)}`).join(',');
    const cluster = new LocalCluster(quorum);
    const common = ['--cluster-id', 'local-cluster', ...(options.args ?? [])];
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    for (const id of controllerIds) {
      const dataDir = join(options.baseDir, `node-${id}`);
      await mkdir(dataDir, { recursive: true });
      const args = ['--roles', 'controller', '--node-id', String(id), '--controller-quorum', quorum, '--grpc-port', String(ports.get(id)), ...common];
      cluster.nodes.set(id, new ClusterNode(id, 'controller', dataDir, args, timeoutMs, [], options.nodeArgs));
    }
    for (let id = 1; id <= options.brokers; id++) {
      const dataDir = join(options.baseDir, `node-${id}`);
      await mkdir(dataDir, { recursive: true });
      let brokerQuorum = quorum;
      const proxies: TcpProxy[] = [];
      if (options.controllerProxies) {
        for (const cid of controllerIds) proxies.push(await TcpProxy.start(`127.0.0.1:${ports.get(cid)}`));
        cluster.proxies.push(...proxies);
        brokerQuorum = controllerIds.map((cid, i) => `${cid}@127.0.0.1:${proxies[i]!.port}`).join(',');
      }
      // Fixed ports, as in a real deployment: a restarted broker is found where it was.
      const listeners = ['--grpc-port', String(await freePort()), ...(options.kafka ? ['--kafka-port', String(await freePort())] : [])];
      const args = ['--roles', 'broker', '--node-id', String(id), '--controller-quorum', brokerQuorum, ...listeners, ...common];
      cluster.nodes.set(id, new ClusterNode(id, 'broker', dataDir, args, timeoutMs, proxies, options.nodeArgs));
    }
    try {
      // Controllers first (they answer "ready" at once), then brokers, which wait to be unfenced.
      await Promise.all(cluster.controllers().map((n) => n.start()));
      await Promise.all(cluster.brokers().map((n) => n.start()));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private static async startNetns(options: LocalClusterOptions): Promise<LocalCluster> {
    if (options.controllerProxies) throw new Error("controllerProxies run on loopback; in network: 'netns' mode cut links with cluster.net instead");
    const controllerIds = Array.from({ length: options.controllers }, (_, i) => 1001 + i);
    const brokerIds = Array.from({ length: options.brokers }, (_, i) => 1 + i);
    const network = await NetnsNetwork.create([...controllerIds, ...brokerIds]);
    let cluster: LocalCluster | undefined;
    try {
      const quorum = controllerIds.map((id) => `${id}@${network.address(id)}:${NETNS_GRPC_PORT}`).join(',');
      cluster = new LocalCluster(quorum, network);
      const common = ['--cluster-id', 'local-cluster', ...(options.args ?? [])];
      const timeoutMs = options.startTimeoutMs ?? 30_000;
      for (const [role, ids] of [['controller', controllerIds], ['broker', brokerIds]] as const) {
        for (const id of ids) {
          const dataDir = join(options.baseDir, `node-${id}`);
          await mkdir(dataDir, { recursive: true });
          const address = network.address(id);
          const listeners = ['--host', address, '--advertised-host', address, '--grpc-port', String(NETNS_GRPC_PORT), ...(role === 'broker' && options.kafka ? ['--kafka-port', String(NETNS_KAFKA_PORT)] : [])];
          const args = ['--roles', role, '--node-id', String(id), '--controller-quorum', quorum, ...listeners, ...common];
          const netns = { namespace: network.endpoint(id).namespace, address, commandPrefix: network.execPrefix(id) };
          cluster.nodes.set(id, new ClusterNode(id, role, dataDir, args, timeoutMs, [], options.nodeArgs, netns));
        }
      }
      await Promise.all(cluster.controllers().map((n) => n.start()));
      await Promise.all(cluster.brokers().map((n) => n.start()));
      return cluster;
    } catch (error) {
      if (cluster !== undefined) await cluster.stop();
      else await network.destroy();
      throw error;
    }
  }

  node(id: number): ClusterNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id} in this cluster`);
    return node;
  }

  controllers(): ClusterNode[] {
    return [...this.nodes.values()].filter((n) => n.role === 'controller');
  }

  brokers(): ClusterNode[] {
    return [...this.nodes.values()].filter((n) => n.role === 'broker');
  }

  /** gRPC addresses of the running brokers, for clients. */
  bootstrap(): string[] {
    return this.brokers()
      .filter((n) => n.pid !== undefined)
      .map((n) => n.grpcAddress);
  }

  /** Stops every node still running (brokers first, gracefully) and the proxies; in netns mode then deletes the namespaces. */
  async stop(): Promise<void> {
    try {
      if (this.network !== undefined) {
        // Cut links would make a graceful stop wait for peers that cannot answer; paused nodes never stop.
        await this.network.heal().catch(() => undefined);
        for (const n of this.nodes.values()) n.resume();
      }
      await Promise.all(this.brokers().map((n) => n.stop()));
      await Promise.all(this.controllers().map((n) => n.stop()));
      await Promise.all(this.proxies.map((p) => p.stop()));
    } finally {
      await this.network?.destroy();
    }
  }
}
