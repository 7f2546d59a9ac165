import { ErrorCode, RivuletError, assert, type Clock, type Logger } from '@rivulet/common';
import type { replicationApi } from '@rivulet/proto';
import { splitBatches } from '@rivulet/records';
import { latestLeaderEpoch, truncationPoint, UNDEFINED_EPOCH } from '@rivulet/replication';
import type { Partition } from './partition.js';

/** A follower's connection to one leader broker's replica service (gRPC in production). */
export interface ReplicaTransport {
  replicaFetch(request: replicationApi.ReplicaFetchRequest, timeoutMs: number): Promise<replicationApi.ReplicaFetchResponse>;
  offsetForLeaderEpoch(request: replicationApi.OffsetForLeaderEpochRequest, timeoutMs: number): Promise<replicationApi.OffsetForLeaderEpochResponse>;
  close(): void;
}

/** Opens a transport to broker `leaderId` at `address` (host:port of its gRPC listener). */
export type ReplicaTransportFactory = (leaderId: number, address: string) => ReplicaTransport;

export interface ReplicaFetcherOptions {
  readonly nodeId: number;
  /** This broker's current epoch (its registration), sent with every fetch. */
  readonly brokerEpoch: () => number;
  readonly transportFactory: ReplicaTransportFactory;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long a leader may hold a fetch with nothing new. Default 500 ms. */
  readonly fetchMaxWaitMs?: number;
  /** Bytes one fetch may return in all (Kafka's replica.fetch.response.max.bytes). Default 16 MiB. */
  readonly fetchMaxBytes?: number;
  /** Bytes one fetch may return per partition (Kafka's replica.fetch.max.bytes). Default 1 MiB. */
  readonly partitionFetchMaxBytes?: number;
  /**
   * Bytes per second this broker copies for replicas it is being given by a reassignment
   * (all of them together); -1 or undefined: no limit. In-sync replication is never throttled.
   */
  readonly reassignmentThrottleBytesPerSec?: number;
}

/**
 * A token bucket of bytes: refills at `bytesPerSec` up to one second's worth; a fetch may
 * overdraw it by one answer (a batch is never split), and the next waits until it is positive.
 */
class ByteThrottle {
  private tokens: number;
  private refilledAtMs: number;

  constructor(
    private readonly bytesPerSec: number,
    private readonly clock: Clock,
  ) {
    assert(Number.isSafeInteger(bytesPerSec) && bytesPerSec > 0, 'a throttle needs a positive rate');
    this.tokens = bytesPerSec;
    this.refilledAtMs = clock.nowMs();
  }

  private refill(): void {
    const nowMs = this.clock.nowMs();
    this.tokens = Math.min(this.bytesPerSec, this.tokens + ((nowMs - this.refilledAtMs) * this.bytesPerSec) / 1000);
    this.refilledAtMs = nowMs;
  }

  /** Bytes that may be asked for now (0 while overdrawn). */
  available(): number {
    this.refill();
    return Math.max(0, Math.floor(this.tokens));
  }

  /** Milliseconds until something is available again. */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.bytesPerSec);
  }

  consume(bytes: number): void {
    this.refill();
    this.tokens -= bytes;
  }
}

const DEFAULT_FETCH_MAX_WAIT_MS = 500;
const DEFAULT_FETCH_MAX_BYTES = 16 * 1024 * 1024;
const DEFAULT_PARTITION_FETCH_MAX_BYTES = 1024 * 1024;
/** Added to the leader's wait for a fetch's deadline. */
const FETCH_DEADLINE_SLACK_MS = 5_000;
const OFFSET_FOR_EPOCH_TIMEOUT_MS = 5_000;
/** Backoff after a failed round trip, doubling up to the max. */
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 1_000;
/** A partition the leader refused (not leader yet, stale epoch) is asked again after this. */
const PARTITION_RETRY_MS = 200;
/** Partitions per OffsetForLeaderEpoch request. */
const EPOCH_REQUEST_PARTITIONS_MAX = 1_000;

type FollowState = 'truncating' | 'fetching';

/** One partition this broker follows: what it knows and what it does next. */
interface FollowedPartition {
  readonly key: string;
  readonly replica: Partition;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  /** A replica a reassignment is adding: its copying counts against the reassignment throttle. */
  isThrottled: boolean;
  state: FollowState;
  /** The epoch to ask the leader about next while truncating (undefined: the log's latest). */
  askLeaderEpoch: number | undefined;
  /** Not before this time (a refused partition waits). */
  retryAtMs: number;
  /** Work on the log in progress (append, truncation); awaited before the replica changes role. */
  inFlight: Promise<void>;
  removed: boolean;
}

/**
 * The follower side of replication: for each leader broker one fetch loop that asks, in one
 * request, for every partition this broker follows there (Kafka's ReplicaFetcherThread).
 * A partition starts in `truncating`: it asks the leader where its latest leader epoch ends
 * (OffsetForLeaderEpoch) and cuts what diverges (KIP-279) before it fetches. Fetched batches
 * are appended as they are (offsets and leader epochs from the leader), and the follower's
 * high watermark follows the leader's.
 */
export class ReplicaFetcherManager {
  private readonly fetchers = new Map<number, LeaderFetcher>();
  private readonly followed = new Map<string, FollowedPartition>();
  private readonly throttle: ByteThrottle | undefined;
  private stopped = false;

  constructor(private readonly options: ReplicaFetcherOptions) {
    const rate = options.reassignmentThrottleBytesPerSec ?? -1;
    this.throttle = rate > 0 ? new ByteThrottle(rate, options.clock) : undefined;
  }

  /**
   * Follows `replica` from broker `leaderId` at `address` in `leaderEpoch`. The same leader and
   * epoch again changes nothing; a new one starts over with truncation.
   */
  follow(key: string, replica: Partition, leaderId: number, leaderEpoch: number, address: string, isThrottled = false): void {
    if (this.stopped) return;
    const current = this.followed.get(key);
    if (current !== undefined && current.replica === replica && current.leaderId === leaderId && current.leaderEpoch === leaderEpoch) {
      current.isThrottled = isThrottled;
      return;
    }
    if (current !== undefined) this.detach(current);
    const entry: FollowedPartition = {
      key,
      replica,
      leaderId,
      leaderEpoch,
      isThrottled,
      state: 'truncating',
      askLeaderEpoch: undefined,
      retryAtMs: 0,
      inFlight: current?.inFlight ?? Promise.resolve(),
      removed: false,
    };
    this.followed.set(key, entry);
    let fetcher = this.fetchers.get(leaderId);
    if (fetcher === undefined || fetcher.address !== address) {
      fetcher?.stop();
      fetcher = new LeaderFetcher(leaderId, address, this.options, this.throttle);
      this.fetchers.set(leaderId, fetcher);
      for (const other of this.followed.values()) if (other.leaderId === leaderId && other !== entry) fetcher.add(other);
    }
    fetcher.add(entry);
  }

  /**
   * Stops following the partition; the promise resolves once no fetcher touches its log any
   * more. Undefined when it was not followed (nothing to wait for).
   */
  unfollow(key: string): Promise<void> | undefined {
    const current = this.followed.get(key);
    if (current === undefined) return undefined;
    this.detach(current);
    return current.inFlight;
  }

  /** Whether `key` is followed from `leaderId` in `leaderEpoch` now. */
  isFollowing(key: string, leaderId: number, leaderEpoch: number): boolean {
    const current = this.followed.get(key);
    return current !== undefined && current.leaderId === leaderId && current.leaderEpoch === leaderEpoch;
  }

  private detach(entry: FollowedPartition): void {
    entry.removed = true;
    if (this.followed.get(entry.key) === entry) this.followed.delete(entry.key);
    const fetcher = this.fetchers.get(entry.leaderId);
    if (fetcher === undefined) return;
    fetcher.remove(entry);
    if (fetcher.isEmpty) {
      fetcher.stop();
      this.fetchers.delete(entry.leaderId);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const pending = [...this.followed.values()].map((entry) => entry.inFlight);
    for (const entry of [...this.followed.values()]) this.detach(entry);
    for (const fetcher of this.fetchers.values()) fetcher.stop();
    this.fetchers.clear();
    await Promise.allSettled(pending);
  }
}

/** The fetch loop towards one leader broker. */
class LeaderFetcher {
  private readonly partitions = new Map<string, FollowedPartition>();
  private readonly transport: ReplicaTransport;
  private readonly logger: Logger;
  private stopped = false;
  private wakeLoop: (() => void) | undefined;
  private backoffMs = BACKOFF_MIN_MS;

  constructor(
    readonly leaderId: number,
    readonly address: string,
    private readonly options: ReplicaFetcherOptions,
    private readonly throttle: ByteThrottle | undefined,
  ) {
    this.transport = options.transportFactory(leaderId, address);
    this.logger = options.logger.child({ component: 'replica-fetcher', leaderId });
    void this.run();
  }

  get isEmpty(): boolean {
    return this.partitions.size === 0;
  }

  add(entry: FollowedPartition): void {
    this.partitions.set(entry.key, entry);
    this.wakeLoop?.();
  }

  remove(entry: FollowedPartition): void {
    if (this.partitions.get(entry.key) === entry) this.partitions.delete(entry.key);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.wakeLoop?.();
    this.transport.close();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeLoop = done;
    }).then(() => {
      this.wakeLoop = undefined;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const nowMs = this.options.clock.nowMs();
      const ready = [...this.partitions.values()].filter((e) => !e.removed && e.retryAtMs <= nowMs);
      if (ready.length === 0) {
        const nextRetryMs = Math.min(...[...this.partitions.values()].map((e) => e.retryAtMs));
        await this.sleep(Number.isFinite(nextRetryMs) ? Math.max(1, nextRetryMs - nowMs) : 60_000);
        continue;
      }
      try {
        const truncating = ready.filter((e) => e.state === 'truncating');
        if (truncating.length > 0) await this.truncate(truncating.slice(0, EPOCH_REQUEST_PARTITIONS_MAX));
        const fetching = ready.filter((e) => e.state === 'fetching' && !e.removed);
        if (fetching.length > 0) await this.fetch(fetching);
        else if (truncating.length === 0) await this.sleep(PARTITION_RETRY_MS);
        this.backoffMs = BACKOFF_MIN_MS;
      } catch (error) {
        if (this.stopped) return;
        if (!(error instanceof RivuletError)) throw error;
        this.logger.debug({ err: error, address: this.address }, 'replica fetch failed; retrying');
        await this.sleep(this.backoffMs);
        this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
      }
    }
  }

  /** One OffsetForLeaderEpoch round for partitions that must find where they diverge. */
  private async truncate(entries: FollowedPartition[]): Promise<void> {
    const asking: { entry: FollowedPartition; leaderEpoch: number }[] = [];
    for (const entry of entries) {
      const log = entry.replica.log;
      const leaderEpoch = entry.askLeaderEpoch ?? latestLeaderEpoch(log.leaderEpochEntries());
      // An empty log, or one with no epochs, has nothing to compare: fetch from its end.
      if (log.logEndOffset() === log.logStartOffset() || leaderEpoch === UNDEFINED_EPOCH) {
        this.startFetching(entry);
        continue;
      }
      asking.push({ entry, leaderEpoch });
    }
    if (asking.length === 0) return;
    const response = await this.transport.offsetForLeaderEpoch(
      {
        replicaId: this.options.nodeId,
        partitions: asking.map(({ entry, leaderEpoch }) => ({
          topic: entry.replica.topic,
          partition: entry.replica.partition,
          currentLeaderEpoch: entry.leaderEpoch,
          leaderEpoch,
        })),
      },
      OFFSET_FOR_EPOCH_TIMEOUT_MS,
    );
    await Promise.all(
      asking.map(async ({ entry }, i) => {
        const answer = response.partitions[i];
        if (entry.removed) return;
        if (answer === undefined || answer.errorCode !== 0) {
          this.refused(entry, answer?.errorCode ?? -1, answer?.errorMessage ?? 'no answer');
          return;
        }
        await this.onLog(entry, async () => {
          const log = entry.replica.log;
          const step = truncationPoint(log.leaderEpochEntries(), log.logEndOffset(), { leaderEpoch: answer.leaderEpoch, endOffset: answer.endOffset });
          const target = step.kind === 'truncate-to-high-watermark' ? entry.replica.highWatermark : step.truncationOffset;
          if (target < log.logEndOffset()) {
            this.logger.info({ topic: entry.replica.topic, partition: entry.replica.partition, from: log.logEndOffset(), to: target, leaderEpoch: entry.leaderEpoch }, 'truncating a diverging follower log');
            await log.truncateTo(target);
            entry.replica.afterTruncation();
          }
          if (step.kind === 'ask-again') entry.askLeaderEpoch = step.nextLeaderEpoch;
          else this.startFetching(entry);
        });
      }),
    );
  }

  private startFetching(entry: FollowedPartition): void {
    entry.state = 'fetching';
    entry.askLeaderEpoch = undefined;
  }

  /** Runs `work` on the partition's log unless it stopped being followed; tracked as in flight. */
  private onLog(entry: FollowedPartition, work: () => Promise<void>): Promise<void> {
    const run = entry.inFlight.then(async () => {
      if (entry.removed) return;
      await work();
    });
    entry.inFlight = run.catch(() => undefined);
    return run;
  }

  private refused(entry: FollowedPartition, errorCode: number, errorMessage: string): void {
    entry.retryAtMs = this.options.clock.nowMs() + PARTITION_RETRY_MS;
    this.logger.debug({ topic: entry.replica.topic, partition: entry.replica.partition, errorCode, errorMessage }, 'the leader refused a replica request; retrying');
  }

  private async fetch(candidates: FollowedPartition[]): Promise<void> {
    const maxWaitMs = this.options.fetchMaxWaitMs ?? DEFAULT_FETCH_MAX_WAIT_MS;
    const partitionMaxBytes = this.options.partitionFetchMaxBytes ?? DEFAULT_PARTITION_FETCH_MAX_BYTES;
    // Replicas a reassignment is adding share the throttle: while it is overdrawn they wait.
    const throttledBytes = this.throttle?.available() ?? Number.POSITIVE_INFINITY;
    const entries = candidates.filter((entry) => !entry.isThrottled || throttledBytes > 0);
    if (entries.length < candidates.length) {
      const retryAtMs = this.options.clock.nowMs() + this.throttle!.waitMs();
      for (const entry of candidates) if (entry.isThrottled) entry.retryAtMs = retryAtMs;
    }
    if (entries.length === 0) return;
    const throttledCount = entries.filter((entry) => entry.isThrottled).length;
    const throttledShare = throttledCount === 0 ? 0 : Math.max(1, Math.floor(throttledBytes / throttledCount));
    const request: replicationApi.ReplicaFetchRequest = {
      replicaId: this.options.nodeId,
      brokerEpoch: this.options.brokerEpoch(),
      maxWaitMs,
      minBytes: 1,
      maxBytes: this.options.fetchMaxBytes ?? DEFAULT_FETCH_MAX_BYTES,
      partitions: entries.map((entry) => ({
        topic: entry.replica.topic,
        topicId: entry.replica.topicId,
        partition: entry.replica.partition,
        currentLeaderEpoch: entry.leaderEpoch,
        fetchOffset: entry.replica.log.logEndOffset(),
        logStartOffset: entry.replica.log.logStartOffset(),
        partitionMaxBytes: entry.isThrottled ? Math.min(partitionMaxBytes, throttledShare) : partitionMaxBytes,
      })),
    };
    const response = await this.transport.replicaFetch(request, maxWaitMs + FETCH_DEADLINE_SLACK_MS);
    const byKey = new Map(response.partitions.map((p) => [`${p.topic}\u0000${p.partition}`, p]));
    await Promise.all(
      entries.map((entry, i) => {
        const data = byKey.get(`${entry.replica.topic}\u0000${entry.replica.partition}`);
        if (data === undefined || entry.removed) return Promise.resolve();
        if (entry.isThrottled) this.throttle?.consume(data.records.length);
        return this.onLog(entry, () => this.applyFetched(entry, request.partitions[i]!.fetchOffset, data)).catch((error: unknown) => {
          if (!(error instanceof RivuletError) || entry.removed) throw error;
          // The log moved under us (an append at an unexpected offset): find the divergence again.
          this.logger.warn({ err: error, topic: entry.replica.topic, partition: entry.replica.partition }, 'appending fetched records failed; truncating again');
          entry.state = 'truncating';
        });
      }),
    );
  }

  private async applyFetched(entry: FollowedPartition, fetchOffset: number, data: replicationApi.ReplicaFetchPartitionData): Promise<void> {
    const replica = entry.replica;
    const log = replica.log;
    if (data.errorCode !== 0) {
      if (data.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
        if (fetchOffset < data.logStartOffset) {
          // The leader no longer has what we would fetch next: start over at its log start.
          this.logger.info({ topic: replica.topic, partition: replica.partition, fetchOffset, leaderLogStartOffset: data.logStartOffset }, 'follower log is behind the leader log start; restarting it there');
          await log.truncateFullyAndStartAt(data.logStartOffset);
          replica.afterTruncation();
        } else {
          entry.state = 'truncating';
        }
        return;
      }
      this.refused(entry, data.errorCode, data.errorMessage);
      return;
    }
    if (log.logEndOffset() !== fetchOffset) return; // the log changed while the fetch was out; ask again
    if (data.records.length > 0) {
      const { batches } = splitBatches(data.records);
      assert(batches.length > 0, 'a replica fetch answer holds whole batches');
      await Promise.all(batches.map((batch) => log.appendAsFollower(batch)));
    }
    const logStartOffset = Math.min(data.logStartOffset, log.logEndOffset());
    if (logStartOffset > log.logStartOffset()) await log.deleteRecordsBefore(logStartOffset);
    replica.takeLeaderHighWatermark(data.highWatermark);
  }
}
