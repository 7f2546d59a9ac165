import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './child.js';
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
}

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
  ) {
    super({ dataDir, args, startTimeoutMs, nodeArgs: [...nodeArgs] });
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

  private constructor(readonly quorum: string) {}

  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
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

  /** Stops every node still running (brokers first, gracefully) and the proxies. */
  async stop(): Promise<void> {
    await Promise.all(this.brokers().map((n) => n.stop()));
    await Promise.all(this.controllers().map((n) => n.stop()));
    await Promise.all(this.proxies.map((p) => p.stop()));
  }
}
