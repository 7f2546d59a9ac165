import { fileURLToPath } from 'node:url';
import { NODE_PROCESS_FLAGS, assert } from '@rivulet/common';
import { signalAndWait, spawnUntilReady, type ReadyChild } from './child.js';

/** The built `rivulet` command; integration tests run the same binary users run. */
export const CLI_BIN = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));

export interface NodeProcessOptions {
  dataDir: string;
  /** Extra `rivulet start` flags, e.g. ['--flush-policy', 'always']. */
  args?: string[];
  /** How long to wait for the node to report that it listens. */
  startTimeoutMs?: number;
  /** Flags for node itself after NODE_PROCESS_FLAGS, e.g. ['--cpu-prof'] in benchmarks. */
  nodeArgs?: string[];
  /**
   * A command that runs node, e.g. ['ip', 'netns', 'exec', 'NS'] (it must exec node in place,
   * so the pid stays node's). Default: node is spawned directly.
   */
  commandPrefix?: string[];
}

/**
 * One `rivulet start` child process on loopback with free ports. The node reports its
 * bound addresses in its "node ready" JSON log line, which is how this learns them.
 */
export class NodeProcess {
  private running: ReadyChild | undefined;
  grpcAddress = '';
  httpAddress: string | null = null;
  kafkaAddress: string | null = null;
  /** Last lines the node wrote to stderr, for failure messages. */
  readonly recentLogLines: string[] = [];

  constructor(private readonly options: NodeProcessOptions) {}

  get pid(): number | undefined {
    return this.running?.child.pid;
  }

  async start(): Promise<void> {
    assert(this.running === undefined, 'node process already running');
    const args = ['start', '--data-dir', this.options.dataDir, '--grpc-port', '0', '--http-port', '0', '--kafka-port', '-1', '--log-format', 'json', '--log-level', 'info', ...(this.options.args ?? [])];
    this.running = await spawnUntilReady(CLI_BIN, args, 'node ready', this.options.startTimeoutMs ?? 15_000, this.recentLogLines, [...NODE_PROCESS_FLAGS, ...(this.options.nodeArgs ?? [])], this.options.commandPrefix);
    this.grpcAddress = String(this.running.readyEntry.grpc);
    this.httpAddress = typeof this.running.readyEntry.http === 'string' ? this.running.readyEntry.http : null;
    this.kafkaAddress = typeof this.running.readyEntry.kafka === 'string' ? this.running.readyEntry.kafka : null;
  }

  /** SIGSTOP: the process freezes (timers, sockets and all) until `resume`. */
  pause(): void {
    this.running?.child.kill('SIGSTOP');
  }

  /** SIGCONT: a paused process wakes up, its view of the world as old as the pause. */
  resume(): void {
    this.running?.child.kill('SIGCONT');
  }

  /** SIGKILL: the process gets no chance to flush or close anything. */
  async kill(): Promise<void> {
    await this.signalAndForget('SIGKILL');
  }

  /** SIGTERM: a graceful stop. */
  async stop(): Promise<number | null> {
    return this.signalAndForget('SIGTERM');
  }

  private async signalAndForget(signal: NodeJS.Signals): Promise<number | null> {
    const code = await signalAndWait(this.running, signal);
    this.running = undefined;
    return code;
  }
}
