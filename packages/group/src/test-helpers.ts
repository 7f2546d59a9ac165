/**
 * Test doubles and builders for the coordinator's tests: a manual clock and scheduler, a
 * GroupLog that can be held back or made to fail, a logger that keeps what it was told, and
 * requests with sensible defaults.
 */
import type { Cancellable, Clock, Logger, RivuletError, Scheduler } from '@rivulet/common';
import { SeededRandom } from '@rivulet/common';
import { encodeConsumerAssignment, encodeConsumerSubscription } from './consumer-protocol.js';
import { GroupCoordinator } from './coordinator.js';
import type { GroupConfig, GroupLog, GroupRecord, HeartbeatRequest, JoinGroupRequest, OffsetCommitRequest, StoredGroupRecord, SyncGroupRequest } from './types.js';
import { DEFAULT_GROUP_CONFIG } from './types.js';

/** Time moves only when a test says so; due tasks run in time order. Monotonic and wall clocks are the same here. */
export class ManualScheduler implements Scheduler, Clock {
  private nextTaskId = 0;
  private readonly tasks = new Map<number, { dueMs: number; task: () => void }>();
  private currentMs: number;

  constructor(startMs = 1_700_000_000_000) {
    this.currentMs = startMs;
  }

  nowMs(): number {
    return this.currentMs;
  }

  wallClockMs(): number {
    return this.currentMs;
  }

  schedule(delayMs: number, task: () => void): Cancellable {
    const taskId = this.nextTaskId++;
    this.tasks.set(taskId, { dueMs: this.currentMs + Math.max(delayMs, 0), task });
    return { cancel: () => this.tasks.delete(taskId) };
  }

  get pendingTaskCount(): number {
    return this.tasks.size;
  }

  /** Moves time forward by `ms`, running every task that comes due, in order. */
  advance(ms: number): void {
    const targetMs = this.currentMs + ms;
    for (;;) {
      let next: [number, { dueMs: number; task: () => void }] | undefined;
      for (const entry of this.tasks) if (entry[1].dueMs <= targetMs && (next === undefined || entry[1].dueMs < next[1].dueMs)) next = entry;
      if (next === undefined) break;
      this.tasks.delete(next[0]);
      this.currentMs = next[1].dueMs;
      next[1].task();
    }
    this.currentMs = targetMs;
  }
}

interface PendingAppend {
  readonly partition: number;
  readonly records: readonly GroupRecord[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Appends succeed at once by default. `holdAppends()` keeps them waiting until `release()`;
 * `failAppends(error)` rejects them. `written` has every record that was committed, in order.
 */
export class FakeGroupLog implements GroupLog {
  readonly written: StoredGroupRecord[] = [];
  private readonly held: PendingAppend[] = [];
  private holding = false;
  private failure: RivuletError | null = null;
  appendCount = 0;

  append(partition: number, records: readonly GroupRecord[]): Promise<void> {
    this.appendCount++;
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const pending = { partition, records, resolve, reject };
      if (this.holding) this.held.push(pending);
      else this.commit(pending);
    });
  }

  holdAppends(): void {
    this.holding = true;
  }

  failAppends(error: RivuletError | null): void {
    this.failure = error;
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** Commits every held append, oldest first, and stops holding. */
  release(): void {
    this.holding = false;
    for (const pending of this.held.splice(0)) this.commit(pending);
  }

  /** Rejects every held append with `error`, and stops holding. */
  rejectHeld(error: RivuletError): void {
    this.holding = false;
    for (const pending of this.held.splice(0)) pending.reject(error);
  }

  private commit(pending: PendingAppend): void {
    for (const record of pending.records) this.written.push({ ...record, offset: this.written.length, timestampMs: 0 });
    pending.resolve();
  }
}

export interface LogEntry {
  readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  readonly fields: object;
  readonly message: string;
}

export class RecordingLogger implements Logger {
  constructor(readonly entries: LogEntry[] = []) {}
  trace(fields: object, message: string): void {
    this.entries.push({ level: 'trace', fields, message });
  }
  debug(fields: object, message: string): void {
    this.entries.push({ level: 'debug', fields, message });
  }
  info(fields: object, message: string): void {
    this.entries.push({ level: 'info', fields, message });
  }
  warn(fields: object, message: string): void {
    this.entries.push({ level: 'warn', fields, message });
  }
  error(fields: object, message: string): void {
    this.entries.push({ level: 'error', fields, message });
  }
  child(): Logger {
    return new RecordingLogger(this.entries);
  }
  messages(level: LogEntry['level']): string[] {
    return this.entries.filter((entry) => entry.level === level).map((entry) => entry.message);
  }
}

export const TEST_CONFIG: GroupConfig = {
  ...DEFAULT_GROUP_CONFIG,
  minSessionTimeoutMs: 1_000,
  maxSessionTimeoutMs: 60_000,
  initialRebalanceDelayMs: 0,
  maxGroupSize: 10,
  maxMemberMetadataBytes: 1_000,
  offsetMetadataMaxBytes: 20,
  offsetsRetentionMs: 100_000,
  offsetsRetentionCheckIntervalMs: 10_000,
};

export interface TestCoordinator {
  readonly coordinator: GroupCoordinator;
  readonly scheduler: ManualScheduler;
  readonly log: FakeGroupLog;
  readonly logger: RecordingLogger;
}

/** A coordinator with one partition, loaded (every group lives in it), unless `loaded` is false. */
export function testCoordinator(options: { config?: Partial<GroupConfig>; loaded?: boolean; log?: FakeGroupLog; scheduler?: ManualScheduler } = {}): TestCoordinator {
  const scheduler = options.scheduler ?? new ManualScheduler();
  const log = options.log ?? new FakeGroupLog();
  const logger = new RecordingLogger();
  const coordinator = new GroupCoordinator({ config: { ...TEST_CONFIG, ...options.config }, partitionCount: 1, clock: scheduler, scheduler, random: new SeededRandom(7), logger, log });
  if (options.loaded ?? true) {
    coordinator.beginLoading(0, 1);
    coordinator.finishLoading(0, 1);
  }
  return { coordinator, scheduler, log, logger };
}

/** Lets every pending promise callback run (appends that resolved, answers that were given). */
export async function settle(): Promise<void> {
  for (let turn = 0; turn < 50; turn++) await Promise.resolve();
}

export const GROUP_ID = 'group';
export const TOPIC = 'topic';

export function subscription(topics: readonly string[] = [TOPIC]): Uint8Array {
  return encodeConsumerSubscription({ topics, userData: null, ownedPartitions: [], generationId: -1, rackId: null });
}

export function assignment(partitions: readonly number[], topic = TOPIC): Uint8Array {
  return encodeConsumerAssignment({ assignedPartitions: [{ topic, partitions }], userData: null });
}

export function joinRequest(overrides: Partial<JoinGroupRequest> = {}): JoinGroupRequest {
  return {
    groupId: GROUP_ID,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription() }],
    requireKnownMemberId: false,
    reason: null,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    ...overrides,
  };
}

export function syncRequest(memberId: string, generationId: number, overrides: Partial<SyncGroupRequest> = {}): SyncGroupRequest {
  return { groupId: GROUP_ID, generationId, memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [], ...overrides };
}

export function heartbeatRequest(memberId: string, generationId: number, overrides: Partial<HeartbeatRequest> = {}): HeartbeatRequest {
  return { groupId: GROUP_ID, generationId, memberId, groupInstanceId: null, ...overrides };
}

/** A commit of `offset` (metadata 'm') to each of `partitions` of TOPIC. */
export function commitRequest(memberId: string, generationId: number, partitions: readonly number[], overrides: Partial<OffsetCommitRequest> & { offset?: number } = {}): OffsetCommitRequest {
  const { offset = 42, ...rest } = overrides;
  return {
    groupId: GROUP_ID,
    generationId,
    memberId,
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [{ name: TOPIC, partitions: partitions.map((partitionIndex) => ({ partitionIndex, committedOffset: offset, committedLeaderEpoch: 3, committedMetadata: 'm' })) }],
    ...rest,
  };
}

export interface StableMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly generationId: number;
}

/**
 * Joins `instanceIds.length` members (static where the entry is a string), completes the
 * rebalance and the leader's sync, member i being assigned partition i of TOPIC. The first
 * member is the leader.
 */
export async function stableGroup(test: TestCoordinator, instanceIds: readonly (string | null)[]): Promise<StableMember[]> {
  const joins = instanceIds.map((groupInstanceId, index) => test.coordinator.joinGroup(joinRequest({ groupInstanceId, clientId: `client${index}` })));
  test.scheduler.advance(TEST_CONFIG.initialRebalanceDelayMs);
  const joined = await Promise.all(joins);
  const members = joined.map((result, index) => ({ memberId: result.memberId, groupInstanceId: instanceIds[index]!, generationId: result.generationId }));
  const leader = joined.find((result) => result.memberId === result.leader)!;
  const syncs = members.map((member, index) =>
    test.coordinator.syncGroup(
      syncRequest(member.memberId, member.generationId, {
        groupInstanceId: member.groupInstanceId,
        assignments: member.memberId === leader.memberId ? members.map((each, partition) => ({ memberId: each.memberId, assignment: assignment([partition]) })) : [],
      }),
    ).then((result) => {
      if (result.errorCode !== 0) throw new Error(`sync of member ${index} failed with ${result.errorCode}`);
    }),
  );
  await Promise.all(syncs);
  return members;
}
