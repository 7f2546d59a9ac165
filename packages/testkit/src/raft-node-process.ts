import { fileURLToPath } from 'node:url';
import { assert } from '@rivulet/common';
import { signalAndWait, spawnUntilReady, type ReadyChild } from './child.js';

/** The built Raft member process of @rivulet/controller. */
export const RAFT_NODE_BIN = fileURLToPath(new URL('../../controller/dist/raft-node-main.js', import.meta.url));

/** What a raft-node reports at GET /status. */
export interface RaftNodeStatus {
  id: number;
  role: string;
  term: number;
  leaderId: number | null;
  commitIndex: number;
  appliedIndex: number;
  firstIndex: number;
  snapshotIndex: number;
  snapshotsInstalled: number;
  snapshotsTaken: number;
}

export type ProposeOutcome = { ok: true; index: number } | { ok: false; leaderId: number | null };

/**
 * One Raft member as a child process, driven through its small HTTP API. It learns its
 * HTTP address from the "raft node started" log line.
 */
export class RaftNodeProcess {
  private running: ReadyChild | undefined;
  httpUrl = '';
  readonly recentLogLines: string[] = [];

  constructor(
    readonly id: number,
    private readonly args: string[],
  ) {}

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  async start(startTimeoutMs = 15_000): Promise<void> {
    assert(this.running === undefined, `raft node ${this.id} already running`);
    this.running = await spawnUntilReady(RAFT_NODE_BIN, this.args, 'raft node started', startTimeoutMs, this.recentLogLines);
    this.httpUrl = String(this.running.readyEntry.http);
  }

  async kill(): Promise<void> {
    await signalAndWait(this.running, 'SIGKILL');
    this.running = undefined;
  }

  async status(): Promise<RaftNodeStatus> {
    const response = await fetch(`${this.httpUrl}/status`, { signal: AbortSignal.timeout(2000) });
    return (await response.json()) as RaftNodeStatus;
  }

  async state(linearizable: boolean): Promise<{ appliedIndex: number; values: Record<string, string> }> {
    const response = await fetch(`${this.httpUrl}/state${linearizable ? '?linearizable=1' : ''}`, { signal: AbortSignal.timeout(6000) });
    if (response.status !== 200) throw new Error(`state from raft node ${this.id}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { appliedIndex: number; values: Record<string, string> };
  }

  /** Proposes key=value; ok once committed and applied, otherwise the leader hint. */
  async propose(key: string, value: string, timeoutMs = 12_000): Promise<ProposeOutcome> {
    const response = await fetch(`${this.httpUrl}/propose`, { method: 'POST', body: JSON.stringify({ key, value }), signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json()) as { index?: number; leaderId?: number | null };
    if (response.status === 200) return { ok: true, index: body.index! };
    return { ok: false, leaderId: body.leaderId ?? null };
  }
}
