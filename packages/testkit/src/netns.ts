import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Network namespaces for LocalCluster's `network: 'netns'` mode: every node in its own
 * namespace with its own address, so tests can cut links between any two nodes (both ways or
 * one way) with iptables rules inside the namespaces.
 *
 * Layout of one network (prefix `rv<pid>-<k>-`, k counting networks of this process):
 * - namespace `<prefix>hub` holds bridge `br0`; nothing else runs there;
 * - namespace `<prefix>n<nodeId>` per node, `eth0` with `198.18.S.<i>/24` (i = 1, 2, …), its
 *   veth peer `n<nodeId>` enslaved to `br0` in the hub;
 * - the host (the test process: clients, admin) gets veth `rv<pid>h<k>` with `198.18.S.254/24`,
 *   its peer `host` enslaved to `br0`.
 * No default route anywhere, no address outside 198.18.S.0/24. S is picked per run from the pid
 * among /24s of 198.18.0.0/15 that have no route on the host yet.
 *
 * Faults are iptables rules in the filter table of a node's namespace (INPUT/OUTPUT on eth0,
 * with -s/-d for one peer): silent drops, TCP just sees no answers; random loss is the same with
 * `-m statistic --mode random`. A slow link is a `tbf` qdisc on both ends of the node's veth
 * (`eth0` shapes what it sends, its bridge port `n<nodeId>` in the hub what it receives); the
 * kernel has no netem, so there is no delay or loss by `tc`. `heal` flushes the rules and deletes
 * the qdiscs.
 * Deleting the namespaces deletes the bridge and veths; `destroy` also deletes the host veth and
 * runs at process exit if a test forgot to stop its cluster.
 */
export interface NetnsSupport {
  readonly ok: boolean;
  /** Why the mode cannot run here (not root, no `ip netns`, no iptables), or 'ok'. */
  readonly reason: string;
}

let supportCache: NetnsSupport | undefined;

/** Whether this machine can run netns-mode clusters (root, iproute2 netns, iptables in a namespace). Synchronous, for describe.skipIf. */
export function netnsSupport(): NetnsSupport {
  if (supportCache !== undefined) return supportCache;
  supportCache = probe();
  return supportCache;
}

function probe(): NetnsSupport {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux, this is ${process.platform}` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { ok: false, reason: 'network namespaces need root (uid 0)' };
  const ns = `rv${process.pid}-probe`;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'pipe' });
  } catch (err) {
    return { ok: false, reason: `\`ip netns add\` failed: ${firstLine(err)}` };
  }
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'iptables', '-w', '-S'], { stdio: 'pipe' });
    return { ok: true, reason: 'ok' };
  } catch (err) {
    return { ok: false, reason: `iptables inside a network namespace failed: ${firstLine(err)}` };
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
    } catch {
      // nothing to clean
    }
  }
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: Buffer | string; message?: string };
  const text = (e.stderr !== undefined && String(e.stderr).trim() !== '' ? String(e.stderr) : e.message) ?? String(err);
  return text.trim().split('\n')[0] ?? '';
}

let networksCreated = 0;
const liveNetworks = new Set<NetnsNetwork>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const net of liveNetworks) net.destroySync();
  });
}

/** A slow link for `NetnsNetwork.shape`: a token bucket filter each way. */
export interface LinkShape {
  readonly rateKbit: number;
  /** Bytes that may pass at once at line rate (the bucket's size); at least one MTU. */
  readonly burstBytes: number;
  /** How long a packet may wait for tokens before it is dropped, ms. */
  readonly latencyMs: number;
}

/** One node's place in the network. */
export interface NetnsEndpoint {
  readonly nodeId: number;
  readonly namespace: string;
  readonly address: string;
}

export class NetnsNetwork {
  /** The host's address on the bridge (where the test's clients connect from). */
  readonly hostAddress: string;
  private readonly endpoints = new Map<number, NetnsEndpoint>();
  private destroyed = false;

  private constructor(
    /** Every namespace and host link of this network starts with this. */
    readonly prefix: string,
    readonly hostLink: string,
    /** 198.18.S (the /24 without its last byte). */
    readonly subnet: string,
  ) {
    this.hostAddress = `${subnet}.254`;
  }

  /** Creates the hub, one namespace per node id and the host link. On failure everything created is deleted. */
  static async create(nodeIds: readonly number[]): Promise<NetnsNetwork> {
    if (nodeIds.length > 250) throw new Error('at most 250 nodes per netns network');
    await cleanupStaleNetworks();
    const k = networksCreated++;
    const prefix = `rv${process.pid}-${k}-`;
    const hostLink = `rv${process.pid}h${k}`;
    if (hostLink.length > 15) throw new Error(`interface name ${hostLink} too long`);
    const subnet = await pickSubnet();
    const net = new NetnsNetwork(prefix, hostLink, subnet);
    liveNetworks.add(net);
    installExitHook();
    try {
      const hub = `${prefix}hub`;
      await ip('netns', 'add', hub);
      await ip('-n', hub, 'link', 'set', 'lo', 'up');
      await ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
      await ip('-n', hub, 'link', 'set', 'br0', 'up');
      let i = 1;
      for (const nodeId of nodeIds) {
        const ns = `${prefix}n${nodeId}`;
        const address = `${subnet}.${i++}`;
        await ip('netns', 'add', ns);
        await ip('-n', ns, 'link', 'set', 'lo', 'up');
        await ip('-n', hub, 'link', 'add', `n${nodeId}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
        await ip('-n', hub, 'link', 'set', `n${nodeId}`, 'master', 'br0', 'up');
        await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
        await ip('-n', ns, 'link', 'set', 'eth0', 'up');
        net.endpoints.set(nodeId, { nodeId, namespace: ns, address });
      }
      await ip('link', 'add', hostLink, 'type', 'veth', 'peer', 'name', 'host', 'netns', hub);
      await ip('-n', hub, 'link', 'set', 'host', 'master', 'br0', 'up');
      await ip('addr', 'add', `${net.hostAddress}/24`, 'dev', hostLink);
      await ip('link', 'set', hostLink, 'up');
    } catch (err) {
      await net.destroy();
      throw err;
    }
    return net;
  }

  endpoint(nodeId: number): NetnsEndpoint {
    const e = this.endpoints.get(nodeId);
    if (e === undefined) throw new Error(`node ${nodeId} has no namespace in this network`);
    return e;
  }

  address(nodeId: number): string {
    return this.endpoint(nodeId).address;
  }

  /** The command prefix that runs a program inside the node's namespace. */
  execPrefix(nodeId: number): string[] {
    return ['ip', 'netns', 'exec', this.endpoint(nodeId).namespace];
  }

  /** The node neither receives nor sends anything on its link (clients, brokers, controllers alike). */
  async isolate(nodeId: number): Promise<void> {
    await this.drop(nodeId, 'INPUT');
    await this.drop(nodeId, 'OUTPUT');
  }

  /** The node still sends but receives nothing from `from` (every peer and the host when omitted). */
  async blockInbound(nodeId: number, from?: readonly number[]): Promise<void> {
    await this.drop(nodeId, 'INPUT', from?.map((peer) => this.address(peer)));
  }

  /** The node still receives but sends nothing to `to` (every peer and the host when omitted). */
  async blockOutbound(nodeId: number, to?: readonly number[]): Promise<void> {
    await this.drop(nodeId, 'OUTPUT', to?.map((peer) => this.address(peer)));
  }

  /** Both directions between `a` and each of `others` cut (rules in a's namespace only); everyone else still reaches both. */
  async cut(a: number, others: readonly number[]): Promise<void> {
    await this.blockInbound(a, others);
    await this.blockOutbound(a, others);
  }

  /**
   * Both directions between the node and the host (the test process: its clients and admin)
   * cut; the other nodes still reach it. Rules in the node's namespace: the host's firewall is
   * left alone.
   */
  async cutHost(nodeId: number): Promise<void> {
    await this.drop(nodeId, 'INPUT', [this.hostAddress]);
    await this.drop(nodeId, 'OUTPUT', [this.hostAddress]);
  }

  /**
   * Every packet the node sends or receives on its link is dropped with this probability
   * (independently, `iptables -m statistic --mode random`), whoever the peer is.
   */
  async lossy(nodeId: number, probability: number): Promise<void> {
    if (!(probability > 0 && probability < 1)) throw new Error(`loss probability ${probability} is not in (0, 1)`);
    const statistic = ['-m', 'statistic', '--mode', 'random', '--probability', String(probability), '-j', 'DROP'];
    await this.iptables(nodeId, '-A', 'INPUT', '-i', 'eth0', ...statistic);
    await this.iptables(nodeId, '-A', 'OUTPUT', '-o', 'eth0', ...statistic);
  }

  /**
   * The node's link limited to `rateKbit` each way: a token bucket (`tc … tbf`) on `eth0` for what
   * it sends and on its bridge port for what it receives. Packets wait up to `latencyMs` in the
   * bucket's queue, then are dropped; `burstBytes` may pass at line rate.
   */
  async shape(nodeId: number, link: LinkShape): Promise<void> {
    const tbf = ['root', 'tbf', 'rate', `${link.rateKbit}kbit`, 'burst', String(link.burstBytes), 'latency', `${link.latencyMs}ms`];
    for (const [namespace, dev] of this.linkEnds(nodeId)) await tc(namespace, 'qdisc', 'replace', 'dev', dev, ...tbf);
  }

  /** Removes every rule and rate limit from the node's namespace and link (all nodes when omitted). */
  async heal(nodeId?: number): Promise<void> {
    const ids = nodeId === undefined ? [...this.endpoints.keys()] : [nodeId];
    for (const id of ids) {
      await this.iptables(id, '-F');
      await this.unshape(id);
    }
  }

  /** Deletes the tbf qdiscs of `shape` (the default qdisc comes back); none there is no error. */
  private async unshape(nodeId: number): Promise<void> {
    for (const [namespace, dev] of this.linkEnds(nodeId)) {
      const { stdout } = await run('ip', ['netns', 'exec', namespace, 'tc', 'qdisc', 'show', 'dev', dev, 'root']);
      if (/\btbf\b/.test(stdout)) await tc(namespace, 'qdisc', 'del', 'dev', dev, 'root');
    }
  }

  /** Both ends of the node's veth: [namespace, device]. */
  private linkEnds(nodeId: number): [string, string][] {
    return [
      [this.endpoint(nodeId).namespace, 'eth0'],
      [`${this.prefix}hub`, `n${nodeId}`],
    ];
  }

  /** DROP rules in `chain` of the node's namespace: one per address, or for the whole of eth0 when none are given. */
  private async drop(nodeId: number, chain: 'INPUT' | 'OUTPUT', addresses?: readonly string[]): Promise<void> {
    const [iface, peer] = chain === 'INPUT' ? ['-i', '-s'] : ['-o', '-d'];
    if (addresses === undefined) await this.iptables(nodeId, '-A', chain, iface, 'eth0', '-j', 'DROP');
    else for (const address of addresses) await this.iptables(nodeId, '-A', chain, peer, address, '-j', 'DROP');
  }

  /** The rules now in the node's namespace (`iptables -S`) and the qdiscs of its link, for logs. */
  async rules(nodeId: number): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', this.endpoint(nodeId).namespace, 'iptables', '-w', '-S']);
    const qdiscs = await Promise.all(this.linkEnds(nodeId).map(async ([namespace, dev]) => (await run('ip', ['netns', 'exec', namespace, 'tc', 'qdisc', 'show', 'dev', dev])).stdout));
    return stdout + qdiscs.join('');
  }

  private async iptables(nodeId: number, ...args: string[]): Promise<void> {
    await run('ip', ['netns', 'exec', this.endpoint(nodeId).namespace, 'iptables', '-w', ...args]);
  }

  /** Deletes every namespace and host link of this network (idempotent). Stop the node processes first. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroySync();
  }

  /** Synchronous teardown, also used at process exit. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    liveNetworks.delete(this);
    deleteByPrefix(this.prefix, this.hostLink);
  }
}

async function ip(...args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (err) {
    throw new Error(`ip ${args.join(' ')} failed: ${firstLine(err)}`);
  }
}

async function tc(namespace: string, ...args: string[]): Promise<void> {
  try {
    await run('ip', ['netns', 'exec', namespace, 'tc', ...args]);
  } catch (err) {
    throw new Error(`tc ${args.join(' ')} in ${namespace} failed: ${firstLine(err)}`);
  }
}

/** Deletes namespaces whose name starts with `prefix` and the host link `hostLink` (or links starting with `linkPrefix`). Best effort. */
function deleteByPrefix(prefix: string, hostLink?: string, linkPrefix?: string): void {
  for (const ns of listNamespacesSync()) {
    if (!ns.startsWith(prefix)) continue;
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
    } catch {
      // already gone
    }
  }
  const links = hostLink !== undefined ? [hostLink] : linkPrefix !== undefined ? listHostLinksSync().filter((l) => l.startsWith(linkPrefix)) : [];
  for (const link of links) {
    try {
      execFileSync('ip', ['link', 'del', link], { stdio: 'pipe' });
    } catch {
      // deleted with its peer's namespace already
    }
  }
}

function listNamespacesSync(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0] ?? '')
      .filter((l) => l !== '');
  } catch {
    return [];
  }
}

function listHostLinksSync(): string[] {
  try {
    return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')
      .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
      .filter((l) => l !== '');
  } catch {
    return [];
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Leftovers of earlier runs that died without cleaning up: `rv<pid>-…` namespaces and `rv<pid>h…` links of processes that no longer exist. */
export async function cleanupStaleNetworks(): Promise<void> {
  const pids = new Set<number>();
  for (const ns of listNamespacesSync()) {
    const m = /^rv(\d+)-/.exec(ns);
    if (m) pids.add(Number(m[1]));
  }
  for (const link of listHostLinksSync()) {
    const m = /^rv(\d+)h\d+$/.exec(link);
    if (m) pids.add(Number(m[1]));
  }
  for (const pid of pids) {
    if (pid === process.pid || pidAlive(pid)) continue;
    deleteByPrefix(`rv${pid}-`, undefined, `rv${pid}h`);
  }
}

/** A /24 of 198.18.0.0/15 that no route on the host uses yet, starting from one derived from the pid. */
async function pickSubnet(): Promise<string> {
  const { stdout } = await run('ip', ['-4', 'route', 'show']);
  const used = new Set<string>();
  for (const line of stdout.split('\n')) {
    const m = /^(198\.1[89]\.\d+)\./.exec(line);
    if (m) used.add(m[1]!);
  }
  const start = (process.pid * 7 + networksCreated * 131) % 512;
  for (let i = 0; i < 512; i++) {
    const n = (start + i) % 512;
    const subnet = `198.${18 + (n >> 8)}.${n & 255}`;
    if (!used.has(subnet)) return subnet;
  }
  throw new Error('no free /24 left in 198.18.0.0/15');
}
