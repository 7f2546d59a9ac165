import { RivuletError, type Logger } from '@rivulet/common';
import { backoffDelayMs, sleep, type BackoffPolicy } from '../backoff.js';
import type { Cluster } from '../cluster.js';
import { toRivuletError } from '../errors.js';
import type { BrokerTransport } from '../transport.js';

/** Answers meaning the coordinator moved or is not there: find it again. */
const COORDINATOR_MOVED: ReadonlySet<string> = new Set(['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE']);
/** Failures of a call meaning the coordinator may be gone: find it again before the next call. */
const COORDINATOR_UNREACHABLE: ReadonlySet<string> = new Set([...COORDINATOR_MOVED, 'NETWORK_EXCEPTION', 'REQUEST_TIMED_OUT', 'BROKER_NOT_AVAILABLE']);
/** FindCoordinator answers worth asking again after a backoff. */
const LOOKUP_RETRIABLE: ReadonlySet<string> = new Set([...COORDINATOR_MOVED, 'COORDINATOR_LOAD_IN_PROGRESS']);

export function isCoordinatorMoved(error: RivuletError): boolean {
  return COORDINATOR_MOVED.has(error.errorName);
}

export interface CoordinatorLinkOptions {
  readonly groupId: string;
  readonly requestTimeoutMs: number;
  readonly backoff: BackoffPolicy;
  readonly logger: Logger;
}

interface Coordinator {
  readonly nodeId: number;
  readonly host: string;
  readonly grpcPort: number;
}

/**
 * The way to one group's coordinator: found with FindCoordinator on any broker and remembered
 * until a call says it moved (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE) or cannot reach it.
 * Lookups are shared: callers that need the coordinator while one is in flight wait for it.
 */
export class CoordinatorLink {
  private coordinator: Coordinator | undefined;
  private lookup: Promise<Coordinator> | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly options: CoordinatorLinkOptions,
  ) {}

  /**
   * The coordinator's transport, looking it up while it is unknown: retriable failures are
   * retried with backoff until `deadlineMs` (then the last one is thrown) or until `signal` aborts.
   */
  async transport(deadlineMs: number, signal?: AbortSignal): Promise<BrokerTransport> {
    let lastError: RivuletError | undefined;
    for (let attempt = 1; ; attempt++) {
      const known = this.coordinator;
      if (known !== undefined) return this.cluster.connectionAt(known.host, known.grpcPort);
      if (lastError !== undefined && signal?.aborted === true) throw lastError;
      try {
        this.lookup ??= this.findCoordinator().finally(() => {
          this.lookup = undefined;
        });
        this.coordinator = await abandonOnAbort(this.lookup, signal);
      } catch (err) {
        const error = toRivuletError(err);
        if (!LOOKUP_RETRIABLE.has(error.errorName) && !error.retriable) throw error;
        const delayMs = backoffDelayMs(this.options.backoff, attempt);
        if (Date.now() + delayMs >= deadlineMs) throw error;
        this.options.logger.debug({ groupId: this.options.groupId, err: error, attempt }, 'group coordinator lookup failed, retrying');
        lastError = error;
        await sleep(delayMs, signal);
      }
    }
  }

  /** Forgets the coordinator when a failure says it moved or may be unreachable; the next call looks it up again. */
  noteFailure(error: RivuletError): void {
    if (!COORDINATOR_UNREACHABLE.has(error.errorName) || this.coordinator === undefined) return;
    this.options.logger.info({ groupId: this.options.groupId, coordinator: this.coordinator.nodeId, reason: error.errorName }, 'group coordinator lost; looking it up again');
    this.coordinator = undefined;
  }

  private async findCoordinator(): Promise<Coordinator> {
    const request = { groupId: this.options.groupId };
    const response = await this.cluster.withAnyBroker((connection) => connection.findCoordinator(request, this.options.requestTimeoutMs));
    if (response.errorCode !== 0) {
      throw RivuletError.fromCode(response.errorCode, `FindCoordinator for group ${this.options.groupId}: ${response.errorMessage}`);
    }
    this.options.logger.debug({ groupId: this.options.groupId, coordinator: response.nodeId }, 'found the group coordinator');
    return { nodeId: response.nodeId, host: response.host, grpcPort: response.grpcPort };
  }
}

/** `promise`, or a rejection as soon as `signal` aborts (the promise itself runs on, for whoever else waits for it). */
function abandonOnAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new RivuletError('NETWORK_EXCEPTION', 'the coordinator lookup was abandoned'));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
