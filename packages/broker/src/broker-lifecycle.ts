import { RivuletError, noopLogger, type Clock, type Logger } from '@rivulet/common';
import type { controllerApi } from '@rivulet/proto';

/** The part of the controller channel the lifecycle uses. */
export interface LifecycleChannel {
  registerBroker(request: controllerApi.RegisterBrokerRequest, timeoutMs: number): Promise<controllerApi.RegisterBrokerResponse>;
  brokerHeartbeat(request: controllerApi.BrokerHeartbeatRequest, timeoutMs: number): Promise<controllerApi.BrokerHeartbeatResponse>;
}

export type LifecycleState = 'registering' | 'fenced' | 'unfenced' | 'shuttingDown' | 'stopped';

export interface BrokerLifecycleOptions {
  readonly channel: LifecycleChannel;
  readonly nodeId: number;
  readonly clusterId: string;
  /** Unique per process start, so the controller tells a restart from a duplicate. */
  readonly incarnationId: string;
  readonly endpoints: readonly controllerApi.Endpoint[];
  readonly rack: string;
  /** The broker's applied metadata offset, reported in every heartbeat. */
  readonly metadataOffset: () => number;
  /** The active controller's committed metadata offset, from every answered heartbeat. */
  readonly onActiveMetadataOffset?: (offset: number) => void;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** Default 500 ms. */
  readonly heartbeatIntervalMs?: number;
  /** Must match the controllers'; the broker stops leading when its lease may have lapsed. Default 2000 ms. */
  readonly sessionTimeoutMs?: number;
}

/**
 * A broker's membership in the cluster, as KRaft's BrokerLifecycleManager: register (a new
 * broker epoch), heartbeat on a lease, start fenced and become unfenced once the metadata
 * log is applied up to the controller's mark, and on shutdown hand leadership away before
 * leaving. `leaseValid` is the broker's own view of its lease, measured from the send time
 * of the last acknowledged heartbeat, so it lapses no later than the controller's view: a
 * broker cut off from the controllers stops acting as leader by itself.
 */
export class BrokerLifecycle {
  private brokerEpoch = -1;
  private lifecycleState: LifecycleState = 'registering';
  private lastAckSentAtMs = Number.NEGATIVE_INFINITY;
  private readonly logger: Logger;
  private readonly heartbeatIntervalMs: number;
  private readonly sessionTimeoutMs: number;
  private loop: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private stopped = false;
  private shuttingDown = false;
  private shutDownAcknowledged = false;
  private resolveReady!: () => void;
  private isReady = false;
  /** Once unfenced: the metadata offset to apply before the broker is ready. */
  private readyAtOffset: number | null = null;
  /**
   * Resolves the first time the broker is unfenced and has applied the metadata of its
   * unfencing (which also hands it the leaderships waiting for it).
   */
  readonly ready: Promise<void> = new Promise((resolve) => (this.resolveReady = resolve));

  constructor(private readonly options: BrokerLifecycleOptions) {
    this.logger = (options.logger ?? noopLogger).child({ component: 'broker-lifecycle' });
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 500;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 2000;
  }

  get state(): LifecycleState {
    return this.lifecycleState;
  }

  get epoch(): number {
    return this.brokerEpoch;
  }

  /** Whether this broker may act as a partition leader right now. */
  leaseValid(): boolean {
    return this.lifecycleState === 'unfenced' && this.options.clock.nowMs() - this.lastAckSentAtMs < this.sessionTimeoutMs;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Heartbeats at once instead of at the next interval (e.g. after applying new metadata). */
  nudge(): void {
    this.wake?.();
  }

  /** Tells the lifecycle the broker applied newer metadata (call after every image). */
  metadataApplied(): void {
    // Catching up is what unfences a broker: tell the controller without waiting.
    if (this.lifecycleState === 'fenced') this.nudge();
    if (this.isReady || this.readyAtOffset === null) return;
    if (this.options.metadataOffset() >= this.readyAtOffset) {
      this.isReady = true;
      this.resolveReady();
    }
  }

  /**
   * Controlled shutdown: asks the controller to move this broker's leaderships away and waits
   * (at most `timeoutMs`) until it says the broker may go. Returns whether it did.
   */
  async shutDown(timeoutMs: number): Promise<boolean> {
    if (this.brokerEpoch < 0 || this.stopped) return false;
    this.shuttingDown = true;
    this.lifecycleState = 'shuttingDown';
    const deadlineMs = this.options.clock.nowMs() + timeoutMs;
    while (!this.shutDownAcknowledged && this.options.clock.nowMs() < deadlineMs && !this.stopped) {
      this.nudge();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!this.shutDownAcknowledged) this.logger.warn({ timeoutMs }, 'controlled shutdown did not complete in time; leaving anyway');
    return this.shutDownAcknowledged;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.lifecycleState = 'stopped';
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (this.brokerEpoch < 0) {
          await this.register();
          // Heartbeat at once: a broker already caught up is unfenced without waiting an interval.
          continue;
        }
        await this.heartbeat();
        failures = 0;
      } catch (error) {
        failures++;
        if (error instanceof RivuletError && (error.errorName === 'STALE_BROKER_EPOCH' || error.errorName === 'BROKER_ID_NOT_REGISTERED')) {
          this.logger.warn({ brokerEpoch: this.brokerEpoch, reason: error.errorName }, 'the controller no longer knows this registration; registering again');
          this.brokerEpoch = -1;
          this.lifecycleState = 'registering';
        } else if (failures === 1 || failures % 20 === 0) {
          this.logger.warn({ err: error, failures }, this.brokerEpoch < 0 ? 'broker registration failed; retrying' : 'broker heartbeat failed; retrying');
        }
      }
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.brokerEpoch < 0 ? Math.min(1000, 100 * failures) : this.heartbeatIntervalMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  private async register(): Promise<void> {
    const response = await this.options.channel.registerBroker(
      {
        brokerId: this.options.nodeId,
        clusterId: this.options.clusterId,
        incarnationId: this.options.incarnationId,
        endpoints: [...this.options.endpoints],
        rack: this.options.rack,
      },
      this.sessionTimeoutMs,
    );
    this.brokerEpoch = response.brokerEpoch;
    this.lifecycleState = 'fenced';
    this.logger.info({ brokerEpoch: response.brokerEpoch, caughtUpOffset: response.caughtUpOffset }, 'registered with the controller');
  }

  private async heartbeat(): Promise<void> {
    const sentAtMs = this.options.clock.nowMs();
    const response = await this.options.channel.brokerHeartbeat(
      {
        brokerId: this.options.nodeId,
        brokerEpoch: this.brokerEpoch,
        currentMetadataOffset: this.options.metadataOffset(),
        wantFence: false,
        wantShutDown: this.shuttingDown,
      },
      Math.max(this.heartbeatIntervalMs, this.sessionTimeoutMs / 2),
    );
    this.lastAckSentAtMs = Math.max(this.lastAckSentAtMs, sentAtMs);
    this.options.onActiveMetadataOffset?.(response.metadataOffset);
    if (this.shuttingDown) {
      if (response.shouldShutDown) this.shutDownAcknowledged = true;
      return;
    }
    const next: LifecycleState = response.isFenced ? 'fenced' : 'unfenced';
    if (next !== this.lifecycleState) this.logger.info({ brokerEpoch: this.brokerEpoch, state: next }, `broker is ${next}`);
    this.lifecycleState = next;
    if (next === 'unfenced' && this.readyAtOffset === null) {
      this.readyAtOffset = response.metadataOffset;
      this.metadataApplied();
    }
  }
}
