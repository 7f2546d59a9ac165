import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { AssignorName } from '@rivulet/client';
import { parseMemberReport, type GroupHistory } from './fault/group-history.js';

/** The built worker (from src or dist alike: tests import the sources, the worker runs built). */
export const GROUP_CONSUMER_WORKER = fileURLToPath(new URL('../dist/group-consumer-worker.js', import.meta.url));

/** What the worker process is started with (one JSON argument). */
export interface GroupConsumerWorkerConfig {
  readonly bootstrap: readonly string[];
  readonly groupId: string;
  readonly topic: string;
  readonly clientId: string;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly commitIntervalMs: number;
  readonly assignors: readonly AssignorName[];
}

export interface GroupConsumerOptions {
  /** The member's name in the history (and its client id). */
  readonly name: string;
  readonly bootstrap: readonly string[];
  readonly groupId: string;
  readonly topic: string;
  /** Where the member's reports go, tagged with its name. */
  readonly history: GroupHistory;
  /** Default 3000. The brokers' --group-min-session-timeout-ms must allow it. */
  readonly sessionTimeoutMs?: number;
  /** Default 1000 (a third of the session, as Kafka advises). */
  readonly heartbeatIntervalMs?: number;
  /** Default 10000. */
  readonly rebalanceTimeoutMs?: number;
  /** Default 3000. */
  readonly requestTimeoutMs?: number;
  /** How often the member commits what it processed since its last commit. Default 250. */
  readonly commitIntervalMs?: number;
  /** Default ['cooperative-sticky']: the cooperative protocol. */
  readonly assignors?: readonly AssignorName[];
  /** How long to wait for the worker to report ready. Default 15000. */
  readonly startTimeoutMs?: number;
}

/** Lines of the worker's stderr (the client's log) kept for failure messages. */
const RECENT_LOG_LINES = 50;

/**
 * A consumer-group member running as its own node process (the worker in
 * group-consumer-worker.ts), so a test can kill it with SIGKILL as a crash would. Its reports
 * go to the shared GroupHistory as they arrive; when the process ends, a `member-exit` event
 * follows its last report. It keeps its own view of what it owns for tests that wait on the
 * group.
 */
export class GroupConsumerProcess {
  readonly recentLogLines: string[] = [];
  /** The partitions the member consumes, by its latest report. */
  owned: readonly number[] = [];
  /** The generation of its latest assignment; -1 before one. */
  generation = -1;
  private readonly exited: Promise<void>;
  private hasExited = false;
  private readyResolve: (() => void) | undefined;
  /** Resolved by the worker's `ready` report. */
  private readonly ready = new Promise<void>((resolve) => (this.readyResolve = resolve));

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    private readonly history: GroupHistory,
  ) {
    let exit: { t: number; code: number | null; signal: string | null } | undefined;
    const exitedProcess = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        exit = { t: history.now(), code, signal };
        resolve();
      }),
    );
    const lines = createInterface({ input: child.stdout! });
    const stdoutDone = new Promise<void>((resolve) => lines.once('close', resolve));
    lines.on('line', (line) => this.onLine(line));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.recentLogLines.push(line);
      if (this.recentLogLines.length > RECENT_LOG_LINES) this.recentLogLines.shift();
    });
    this.exited = Promise.all([exitedProcess, stdoutDone]).then(() => {
      this.hasExited = true;
      this.owned = [];
      history.append({ type: 'member-exit', member: name, t: exit!.t, code: exit!.code, signal: exit!.signal });
    });
  }

  static async start(options: GroupConsumerOptions): Promise<GroupConsumerProcess> {
    const config: GroupConsumerWorkerConfig = {
      bootstrap: options.bootstrap,
      groupId: options.groupId,
      topic: options.topic,
      clientId: options.name,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 3000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 3000,
      commitIntervalMs: options.commitIntervalMs ?? 250,
      assignors: options.assignors ?? ['cooperative-sticky'],
    };
    options.history.append({ type: 'member-start', member: options.name });
    const child = spawn(process.execPath, [GROUP_CONSUMER_WORKER, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const member = new GroupConsumerProcess(options.name, child, options.history);
    const timeoutMs = options.startTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        member.ready,
        member.exited.then(() => Promise.reject(new Error(`group member ${options.name} exited before it was ready:\n${member.recentLogLines.join('\n')}`))),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`group member ${options.name} was not ready within ${timeoutMs} ms:\n${member.recentLogLines.join('\n')}`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      await member.kill();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return member;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.hasExited;
  }

  private onLine(line: string): void {
    const report = parseMemberReport(line);
    if (report === undefined) {
      this.recentLogLines.push(`[stdout] ${line}`);
      if (this.recentLogLines.length > RECENT_LOG_LINES) this.recentLogLines.shift();
      return;
    }
    this.history.append({ ...report, member: this.name });
    switch (report.type) {
      case 'ready':
        this.readyResolve?.();
        break;
      case 'assigned':
        this.owned = report.owned;
        this.generation = report.generation;
        break;
      case 'revoked':
      case 'lost':
        this.owned = this.owned.filter((p) => !report.partitions.includes(p));
        break;
      default:
        break;
    }
  }

  /** Sends `signal` (default SIGKILL: a crash, nothing flushed, no goodbye to the group) and waits until the process and its output ended. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.hasExited && this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }

  /**
   * SIGTERM: the member commits what it processed and leaves the group. Waits for it up to
   * `timeoutMs`, then kills it and throws: a member that cannot stop is a finding, not noise.
   */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (this.hasExited) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      await this.kill();
      throw new Error(`group member ${this.name} did not stop within ${timeoutMs} ms of SIGTERM:\n${this.recentLogLines.slice(-10).join('\n')}`);
    }
  }
}
