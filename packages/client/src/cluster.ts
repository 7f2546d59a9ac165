import { RivuletError, type Logger } from '@rivulet/common';
import type { clientApi } from '@rivulet/proto';
import { backoffDelayMs, sleep, type BackoffPolicy } from './backoff.js';
import { resultError } from './errors.js';
import type { BrokerTransport, TransportFactory } from './transport.js';

export interface BrokerAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly grpcPort: number;
  readonly kafkaPort: number;
  readonly rack: string;
}

export interface PartitionInfo {
  readonly partition: number;
  /** -1 while the partition has no leader. */
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly errorCode: number;
}

export interface TopicInfo {
  readonly name: string;
  readonly isInternal: boolean;
  /** Indexed by partition id. */
  readonly partitions: readonly PartitionInfo[];
}

/** How long a broker that failed a request stays last in line for metadata requests. */
const SUSPECT_BROKER_MS = 10_000;

export interface ClusterOptions {
  readonly bootstrap: readonly string[];
  readonly transportFactory: TransportFactory;
  readonly requestTimeoutMs: number;
  readonly retryBackoff: BackoffPolicy;
  readonly metadataMaxAgeMs: number;
  /** Lookups of a topic the brokers do not know are retried this many times before failing. */
  readonly unknownTopicAttempts: number;
  readonly allowAutoTopicCreation: boolean;
  readonly logger: Logger;
}

/**
 * The client's view of the cluster: brokers, topics and partition leaders from the latest
 * metadata response, and one transport (gRPC channel) per broker address. Refreshes are
 * coalesced: callers that ask while one is in flight share the next one.
 */
export class Cluster {
  clusterId = '';
  controllerId = -1;
  private readonly brokers = new Map<number, BrokerAddress>();
  private readonly topics = new Map<string, TopicInfo>();
  private readonly topicErrors = new Map<string, RivuletError>();
  private readonly interestingTopics = new Set<string>();
  private readonly connections = new Map<string, BrokerTransport>();
  private refreshInFlight: Promise<void> | undefined;
  private refreshQueued: Promise<void> | undefined;
  private lastRefreshMs = Number.NEGATIVE_INFINITY;
  private appliedResponses = 0;
  private nextBrokerIndex = 0;
  /**
   * The broker that answered the last request made through this client (metadata, admin),
   * asked first next time: a failed broker is not asked first again, and a read that follows
   * a write goes where the write was answered, which has applied it (read-your-writes).
   */
  private stickyAddress: string | undefined;
  /** The broker the metadata request in flight waits on, and how to stop waiting (its answer is then ignored). */
  private metadataAttempt: { readonly address: string; readonly abandon: () => void } | undefined;
  /**
   * Brokers that recently failed a request in a way that says their view may be wrong or
   * they cannot be reached (not leader, fenced epoch, timeout, unreachable), until when:
   * metadata is asked of them last. A broker cut off from the controllers still answers
   * metadata, naming itself leader of partitions that moved away.
   */
  private readonly suspectUntilMs = new Map<string, number>();
  /** Told after every metadata response is applied. */
  private readonly updateListeners = new Set<() => void>();
  private closed = false;

  constructor(private readonly options: ClusterOptions) {
    if (options.bootstrap.length === 0) throw new RivuletError('INVALID_CONFIG', 'bootstrap must name at least one host:port');
  }

  get knownBrokers(): readonly BrokerAddress[] {
    return [...this.brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  topic(name: string): TopicInfo | undefined {
    this.refreshIfStale();
    return this.topics.get(name);
  }

  leaderOf(topic: string, partition: number): number | undefined {
    const leaderId = this.topics.get(topic)?.partitions[partition]?.leaderId;
    return leaderId === undefined || leaderId < 0 || !this.brokers.has(leaderId) ? undefined : leaderId;
  }

  connectionFor(nodeId: number): BrokerTransport | undefined {
    const broker = this.brokers.get(nodeId);
    return broker === undefined ? undefined : this.connectionTo(`${broker.host}:${broker.grpcPort}`);
  }

  /** The transport to a broker named by address, as a group's FindCoordinator answers it (it may be newer than this metadata). */
  connectionAt(host: string, grpcPort: number): BrokerTransport {
    return this.connectionTo(`${host}:${grpcPort}`);
  }

  /**
   * Marks broker `nodeId` suspect for SUSPECT_BROKER_MS: the next metadata requests go to
   * other brokers first (see `suspectUntilMs`).
   */
  noteBrokerTrouble(nodeId: number): void {
    const address = this.addressOf(nodeId);
    if (address === undefined) return;
    this.suspectUntilMs.set(address, Date.now() + SUSPECT_BROKER_MS);
    if (this.stickyAddress === address) this.stickyAddress = undefined;
    // A metadata request waiting on it now would likely wait out its whole timeout: ask the next broker.
    if (this.metadataAttempt?.address === address) this.metadataAttempt.abandon();
  }

  /** Broker `nodeId` answered a request as expected: it is no longer suspect. */
  noteBrokerAnswered(nodeId: number): void {
    const address = this.addressOf(nodeId);
    if (address !== undefined) this.suspectUntilMs.delete(address);
  }

  private addressOf(nodeId: number): string | undefined {
    const broker = this.brokers.get(nodeId);
    return broker === undefined ? undefined : `${broker.host}:${broker.grpcPort}`;
  }

  private isSuspect(address: string): boolean {
    const until = this.suspectUntilMs.get(address);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.suspectUntilMs.delete(address);
    return false;
  }

  /** Any broker, in rotation: known brokers first, the bootstrap list when none is known yet. */
  anyConnection(): BrokerTransport {
    const addresses = this.candidateAddresses();
    const address = addresses[this.nextBrokerIndex++ % addresses.length]!;
    return this.connectionTo(address);
  }

  /**
   * Calls `listener` after every metadata response is applied, whoever asked for it (a
   * consumer waiting for a partition's new leader need not wait for its own refresh); returns
   * the function that stops it. A listener must not throw.
   */
  onMetadataUpdate(listener: () => void): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }

  /** How many metadata responses this client has applied: it grows with every refresh that got an answer. */
  get metadataVersion(): number {
    return this.appliedResponses;
  }

  /** Refreshes metadata for `topics` and every topic asked about before. */
  refreshMetadata(topics: readonly string[] = []): Promise<void> {
    for (const topic of topics) this.interestingTopics.add(topic);
    if (this.refreshInFlight === undefined) {
      this.refreshInFlight = this.fetchMetadata().finally(() => {
        this.refreshInFlight = undefined;
      });
      return this.refreshInFlight;
    }
    // The request in flight may predate the caller's reason to refresh; queue exactly one more.
    this.refreshQueued ??= this.refreshInFlight
      .catch(() => undefined)
      .then(() => {
        this.refreshQueued = undefined;
        return this.refreshMetadata();
      });
    return this.refreshQueued;
  }

  /**
   * Returns a topic's metadata, refreshing until it is known. Retriable topic errors (a leader
   * election, a topic created a moment ago) are retried with backoff until `maxWaitMs`; a topic
   * the brokers still do not know after `unknownTopicAttempts` lookups fails with
   * UNKNOWN_TOPIC_OR_PARTITION, as does any non-retriable error.
   */
  async waitForTopic(name: string, maxWaitMs: number): Promise<TopicInfo> {
    const deadline = Date.now() + maxWaitMs;
    let lastError: RivuletError | undefined;
    for (let attempt = 0; ; attempt++) {
      const info = this.topics.get(name);
      if (info !== undefined && info.partitions.length > 0 && attempt > 0) return info;
      if (info !== undefined && info.partitions.length > 0 && Date.now() - this.lastRefreshMs < this.options.metadataMaxAgeMs) return info;
      const topicError = this.topicErrors.get(name) ?? lastError;
      if (topicError !== undefined && !topicError.retriable) throw topicError;
      if (topicError?.errorName === 'UNKNOWN_TOPIC_OR_PARTITION' && attempt >= this.options.unknownTopicAttempts) throw topicError;
      if (Date.now() >= deadline) {
        throw topicError ?? new RivuletError('REQUEST_TIMED_OUT', `topic ${name} not present in metadata after ${maxWaitMs} ms`, { topic: name });
      }
      if (attempt > 0) await sleep(Math.min(backoffDelayMs(this.options.retryBackoff, attempt), Math.max(0, deadline - Date.now())));
      try {
        await this.refreshMetadata([name]);
        lastError = undefined;
      } catch (err) {
        lastError = err instanceof RivuletError ? err : new RivuletError('NETWORK_EXCEPTION', String(err), {}, { cause: err });
      }
    }
  }

  /**
   * Runs a request on a broker — the one that answered last while it keeps answering, else the
   * next in rotation — moving to the next one after a retriable failure (an unreachable
   * broker, a timeout) with backoff, up to `attempts` tries.
   */
  async withAnyBroker<T>(request: (connection: BrokerTransport) => Promise<T>, attempts = 3): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const sticky = this.stickyAddress;
      const address = sticky !== undefined && this.candidateAddresses().includes(sticky) ? sticky : undefined;
      const connection = address !== undefined ? this.connectionTo(address) : this.anyConnection();
      try {
        const response = await request(connection);
        this.stickyAddress = connection.address;
        return response;
      } catch (err) {
        if (this.stickyAddress === connection.address) this.stickyAddress = undefined;
        // The next try (now or in a later request) starts after the broker that failed.
        const failedAt = this.candidateAddresses().indexOf(connection.address);
        if (failedAt >= 0) this.nextBrokerIndex = failedAt + 1;
        if (!(err instanceof RivuletError) || !err.retriable || attempt >= attempts) throw err;
        this.options.logger.debug({ err, attempt }, 'request failed, retrying on another broker');
        await sleep(backoffDelayMs(this.options.retryBackoff, attempt));
      }
    }
  }

  /** Metadata of every topic, creating none (pattern subscriptions match against it); it also refreshes this view. */
  async refreshAllTopics(): Promise<TopicInfo[]> {
    const request: clientApi.MetadataRequest = { topics: [], allowAutoTopicCreation: false };
    const response = await this.withAnyBroker((connection) => connection.getMetadata(request, this.options.requestTimeoutMs));
    this.apply(response, request.topics);
    return [...this.topics.values()];
  }

  close(): void {
    this.closed = true;
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  private refreshIfStale(): void {
    if (this.closed || this.refreshInFlight !== undefined) return;
    if (Date.now() - this.lastRefreshMs < this.options.metadataMaxAgeMs) return;
    this.refreshMetadata().catch((err: unknown) => {
      this.options.logger.warn({ err }, 'periodic metadata refresh failed');
    });
  }

  private candidateAddresses(): string[] {
    const known = this.knownBrokers.map((b) => `${b.host}:${b.grpcPort}`);
    return known.length > 0 ? known : [...this.options.bootstrap];
  }

  private connectionTo(address: string): BrokerTransport {
    if (this.closed) throw new RivuletError('NETWORK_EXCEPTION', 'the client is closed');
    let connection = this.connections.get(address);
    if (connection === undefined) {
      connection = this.options.transportFactory(address);
      this.connections.set(address, connection);
    }
    return connection;
  }

  /**
   * Asks brokers in turn (then the bootstrap list) until one answers: first the one that
   * answered last, so a broker that failed (dead, or cut off and eating requests until their
   * timeout) is not asked first again on the next refresh.
   */
  private async fetchMetadata(): Promise<void> {
    const request: clientApi.MetadataRequest = {
      topics: [...this.interestingTopics],
      allowAutoTopicCreation: this.options.allowAutoTopicCreation,
    };
    const known = [...new Set([...this.candidateAddresses(), ...this.options.bootstrap])];
    const start = this.nextBrokerIndex % known.length;
    const rotated = [...known.slice(start), ...known.slice(0, start)];
    const preferred = this.stickyAddress;
    const ordered = preferred !== undefined && rotated.includes(preferred) ? [preferred, ...rotated.filter((a) => a !== preferred)] : rotated;
    // Suspect brokers last, in the same order.
    const addresses = [...ordered.filter((a) => !this.isSuspect(a)), ...ordered.filter((a) => this.isSuspect(a))];
    let lastError: unknown;
    for (const address of addresses) {
      try {
        const answer = this.connectionTo(address).getMetadata(request, this.options.requestTimeoutMs);
        const abandoned = new Promise<never>((_resolve, reject) => {
          this.metadataAttempt = {
            address,
            abandon: () => reject(new RivuletError('REQUEST_TIMED_OUT', `stopped waiting for metadata from ${address}: it failed another request meanwhile`)),
          };
        });
        answer.catch(() => undefined);
        const response = await Promise.race([answer, abandoned]);
        this.stickyAddress = address;
        this.apply(response, request.topics);
        return;
      } catch (err) {
        lastError = err;
        if (this.stickyAddress === address) this.stickyAddress = undefined;
        this.nextBrokerIndex++;
        this.options.logger.debug({ address, err }, 'metadata request failed, trying the next broker');
      } finally {
        this.metadataAttempt = undefined;
      }
    }
    throw lastError instanceof RivuletError ? lastError : new RivuletError('NETWORK_EXCEPTION', `no broker answered a metadata request: ${String(lastError)}`);
  }

  private apply(response: clientApi.MetadataResponse, requestedTopics: readonly string[]): void {
    this.clusterId = response.clusterId;
    this.controllerId = response.controllerId;
    this.brokers.clear();
    for (const broker of response.brokers) this.brokers.set(broker.nodeId, { ...broker });
    this.closeUnusedConnections();
    // An empty request asked for every topic, so topics absent from the answer are gone.
    if (requestedTopics.length === 0) this.topics.clear();
    for (const topic of response.topics) this.applyTopic(topic);
    this.lastRefreshMs = Date.now();
    this.appliedResponses++;
    for (const listener of this.updateListeners) listener();
  }

  /** Closes channels to brokers that left the cluster; bootstrap addresses stay for the next lookup. */
  private closeUnusedConnections(): void {
    const wanted = new Set([...this.candidateAddresses(), ...this.options.bootstrap]);
    for (const [address, connection] of this.connections) {
      if (wanted.has(address)) continue;
      connection.close();
      this.connections.delete(address);
    }
  }

  private applyTopic(topic: clientApi.TopicMetadata): void {
    const error = resultError(topic.errorCode, topic.errorMessage, { topic: topic.name });
    if (error !== undefined) {
      this.topicErrors.set(topic.name, error);
      this.topics.delete(topic.name);
      return;
    }
    this.topicErrors.delete(topic.name);
    const partitions: PartitionInfo[] = [];
    for (const p of topic.partitions) {
      partitions[p.partition] = {
        partition: p.partition,
        leaderId: p.errorCode === 0 ? p.leaderId : -1,
        leaderEpoch: p.leaderEpoch,
        replicas: p.replicas,
        isr: p.isr,
        errorCode: p.errorCode,
      };
    }
    this.topics.set(topic.name, { name: topic.name, isInternal: topic.isInternal, partitions });
  }
}

/** Splits "host:port,host:port" or an array of them into addresses. */
export function parseBootstrap(bootstrap: string | readonly string[]): string[] {
  const list = typeof bootstrap === 'string' ? bootstrap.split(',') : bootstrap;
  return list.map((s) => s.trim()).filter((s) => s !== '');
}
