/**
 * The controller's replication-control decisions, after KRaft's ReplicationControlManager and
 * ClusterControlManager: pure functions of the current image and a request that return the
 * records to commit, or a typed error. They do no I/O and never mutate the image; the caller
 * commits the records through Raft and applies them once committed.
 */
import { RivuletError, assert, topicNameProblem } from '@rivulet/common';
import { allPartitions, applyRecords, changedPartition, getPartition, topicById } from './image.js';
import type { BrokerRegistration, MetadataImage, PartitionRegistration } from './image.js';
import { fail, ok, placeReplicas } from './placement.js';
import type { Result } from './placement.js';
import { NO_LEADER } from './records.js';
import type { Endpoint, MetadataRecord, PartitionChangeRecord } from './records.js';

export type Decision = Result<MetadataRecord[]>;

/** Brokers that may host new replicas and lead: registered and unfenced, not shutting down. */
export function isEligible(image: MetadataImage, brokerId: number): boolean {
  return image.brokers.get(brokerId)?.state === 'unfenced';
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

// ---------------------------------------------------------------------------------------
// Topics

export interface CreateTopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs?: Readonly<Record<string, string>>;
  /** Where leader placement starts; defaults to the number of existing topics. */
  readonly startIndex?: number;
}

export function createTopic(image: MetadataImage, spec: CreateTopicSpec, nextTopicId: string): Decision {
  const bad = topicNameProblem(spec.name);
  if (bad !== undefined) return fail(new RivuletError('INVALID_TOPIC_EXCEPTION', bad, { topic: spec.name }));
  if (image.topicsByName.has(spec.name)) {
    return fail(new RivuletError('TOPIC_ALREADY_EXISTS', `Topic '${spec.name}' already exists`, { topic: spec.name }));
  }
  assert(!image.topicNamesById.has(nextTopicId), `createTopic: topic id ${nextTopicId} is already in use`);
  const brokers = [...image.brokers.values()].filter((b) => b.state === 'unfenced').map((b) => ({ id: b.brokerId, rack: b.rack }));
  const placed = placeReplicas({
    brokers,
    partitions: spec.partitions,
    replicationFactor: spec.replicationFactor,
    startIndex: spec.startIndex ?? image.topicsByName.size,
  });
  if (!placed.ok) return placed;
  const records: MetadataRecord[] = [{ type: 'Topic', name: spec.name, topicId: nextTopicId }];
  for (const key of Object.keys(spec.configs ?? {}).sort()) {
    records.push({ type: 'TopicConfig', topic: spec.name, key, value: spec.configs![key]! });
  }
  placed.value.forEach((replicas, partition) => {
    records.push({
      type: 'Partition',
      topicId: nextTopicId,
      partition,
      replicas,
      isr: replicas,
      leader: replicas[0]!,
      leaderEpoch: 0,
      partitionEpoch: 0,
    });
  });
  return ok(records);
}

export function deleteTopic(image: MetadataImage, name: string): Decision {
  const topic = image.topicsByName.get(name);
  if (topic === undefined) return fail(new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist`, { topic: name }));
  return ok([{ type: 'RemoveTopic', topicId: topic.topicId }]);
}

// ---------------------------------------------------------------------------------------
// Brokers

export interface RegisterBrokerRequest {
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly endpoints: readonly Endpoint[];
  readonly rack?: string | null;
}

/**
 * Registers a broker with a fresh epoch. A different incarnation of an id whose registration
 * is still live (not fenced) is refused with DUPLICATE_BROKER_REGISTRATION: the old process may
 * still be running, and is only replaced once its lease expired and it was fenced. The same
 * incarnation re-registering (a retry) is accepted. The new registration starts fenced, so any
 * leadership the old registration held is moved first.
 */
export function registerBroker(image: MetadataImage, request: RegisterBrokerRequest, nextBrokerEpoch: number): Decision {
  if (!Number.isSafeInteger(request.brokerId) || request.brokerId < 0) {
    return fail(new RivuletError('INVALID_REQUEST', `Invalid broker id ${request.brokerId}`));
  }
  const existing = image.brokers.get(request.brokerId);
  const records: MetadataRecord[] = [];
  if (existing !== undefined) {
    assert(nextBrokerEpoch > existing.brokerEpoch, `registerBroker: epoch ${nextBrokerEpoch} must exceed ${existing.brokerEpoch}`);
    if (existing.incarnationId !== request.incarnationId && existing.state !== 'fenced') {
      return fail(
        new RivuletError('DUPLICATE_BROKER_REGISTRATION', `Another incarnation of broker ${request.brokerId} is still registered`, {
          nodeId: request.brokerId,
        }),
      );
    }
    if (existing.state !== 'fenced') {
      const fenced = fenceBroker(image, request.brokerId);
      if (!fenced.ok) return fenced;
      records.push(...fenced.value);
    }
  }
  records.push({
    type: 'RegisterBroker',
    brokerId: request.brokerId,
    incarnationId: request.incarnationId,
    brokerEpoch: nextBrokerEpoch,
    endpoints: request.endpoints.map((e) => ({ ...e })),
    rack: request.rack ?? null,
  });
  return ok(records);
}

function lookupBroker(image: MetadataImage, brokerId: number): Result<BrokerRegistration> {
  const broker = image.brokers.get(brokerId);
  if (broker === undefined) {
    return fail(new RivuletError('BROKER_ID_NOT_REGISTERED', `Broker ${brokerId} is not registered`, { nodeId: brokerId }));
  }
  return ok(broker);
}

/** The first replica (preferred order) that is in the ISR, eligible, and not `excluded`. */
function electLeader(image: MetadataImage, p: PartitionRegistration, isr: readonly number[], excluded: number): number {
  for (const id of p.replicas) {
    if (id !== excluded && isr.includes(id) && isEligible(image, id)) return id;
  }
  return NO_LEADER;
}

/** The topic config that trades acknowledged data for availability (Kafka's name). */
export const UNCLEAN_LEADER_ELECTION_CONFIG = 'unclean.leader.election.enable';

/** Whether the partition's topic allows electing a leader from outside the ISR. */
function isUncleanElectionAllowed(image: MetadataImage, p: PartitionRegistration): boolean {
  return topicById(image, p.topicId)?.configs.get(UNCLEAN_LEADER_ELECTION_CONFIG) === 'true';
}

/**
 * Unclean election: the first eligible replica (preferred order), not `excluded`, outside the
 * ISR. It becomes the ISR alone; whatever the old ISR had beyond its log is lost.
 */
function electUncleanLeader(image: MetadataImage, p: PartitionRegistration, excluded: number): number {
  if (!isUncleanElectionAllowed(image, p)) return NO_LEADER;
  return p.replicas.find((id) => id !== excluded && isEligible(image, id)) ?? NO_LEADER;
}

/**
 * Records that take `brokerId` out of every partition's ISR and leadership: the ISR shrinks
 * (never to empty: a sole remaining member stays, as Kafka without ELR), and a partition it
 * led elects another eligible ISR member, or gets no leader — unless its topic sets
 * unclean.leader.election.enable, when another live replica outside the ISR takes over.
 */
function removeFromPartitions(image: MetadataImage, brokerId: number): PartitionChangeRecord[] {
  const out: PartitionChangeRecord[] = [];
  for (const p of allPartitions(image)) {
    const inIsr = p.isr.includes(brokerId);
    if (!inIsr && p.leader !== brokerId) continue;
    const shrunk = p.isr.filter((id) => id !== brokerId);
    let isr = shrunk.length > 0 ? shrunk : p.isr;
    let leader = p.leader === brokerId || p.leader === NO_LEADER ? electLeader(image, p, isr, brokerId) : p.leader;
    if (leader === NO_LEADER) {
      const unclean = electUncleanLeader(image, p, brokerId);
      if (unclean !== NO_LEADER) [leader, isr] = [unclean, [unclean]];
    }
    const change: { -readonly [K in keyof PartitionChangeRecord]: PartitionChangeRecord[K] } = {
      type: 'PartitionChange',
      topicId: p.topicId,
      partition: p.partition,
    };
    if (!sameMembers(isr, p.isr)) change.isr = isr;
    if (leader !== p.leader) change.leader = leader;
    if (change.isr !== undefined || change.leader !== undefined) out.push(change);
  }
  return out;
}

/** Fences a broker (lease expired, or on request): moves its leaderships and shrinks ISRs. */
export function fenceBroker(image: MetadataImage, brokerId: number): Decision {
  const found = lookupBroker(image, brokerId);
  if (!found.ok) return found;
  const broker = found.value;
  const records: MetadataRecord[] = removeFromPartitions(image, brokerId);
  if (broker.state !== 'fenced') records.push({ type: 'FenceBroker', brokerId, brokerEpoch: broker.brokerEpoch });
  return ok(records);
}

/**
 * Controlled shutdown: the broker gives up leadership and ISR membership like fencing, but
 * stays registered as shuttingDown until it is fenced.
 */
export function beginControlledShutdown(image: MetadataImage, brokerId: number, brokerEpoch: number): Decision {
  const found = lookupBroker(image, brokerId);
  if (!found.ok) return found;
  if (found.value.brokerEpoch !== brokerEpoch) return fail(new RivuletError('STALE_BROKER_EPOCH', undefined, { nodeId: brokerId }));
  const records: MetadataRecord[] = removeFromPartitions(image, brokerId);
  if (found.value.state === 'unfenced') records.push({ type: 'BrokerShuttingDown', brokerId, brokerEpoch });
  return ok(records);
}

/**
 * Unfences a broker (it caught up with the metadata log) and makes it leader of the
 * partitions that have no leader and have it in their ISR — or, where the topic allows
 * unclean election, that have it as a replica (it then becomes the ISR alone).
 */
export function unfenceBroker(image: MetadataImage, brokerId: number, brokerEpoch: number): Decision {
  const found = lookupBroker(image, brokerId);
  if (!found.ok) return found;
  if (found.value.brokerEpoch !== brokerEpoch) return fail(new RivuletError('STALE_BROKER_EPOCH', undefined, { nodeId: brokerId }));
  if (found.value.state !== 'fenced') return ok([]);
  const records: MetadataRecord[] = [{ type: 'UnfenceBroker', brokerId, brokerEpoch }];
  for (const p of allPartitions(image)) {
    if (p.leader !== NO_LEADER) continue;
    if (p.isr.includes(brokerId)) {
      records.push({ type: 'PartitionChange', topicId: p.topicId, partition: p.partition, leader: brokerId });
    } else if (p.replicas.includes(brokerId) && isUncleanElectionAllowed(image, p)) {
      records.push({ type: 'PartitionChange', topicId: p.topicId, partition: p.partition, leader: brokerId, isr: [brokerId] });
    }
  }
  return ok(records);
}

// ---------------------------------------------------------------------------------------
// Partitions

export interface AlterPartitionRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly topicId: string;
  readonly partition: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly newIsr: readonly number[];
}

/**
 * The partition leader proposes a new ISR, fenced by leader epoch and partition epoch (the
 * checks and codes of Kafka's ReplicationControlManager). On success the value is the records
 * to commit (none when the ISR is unchanged).
 */
export function handleAlterPartition(image: MetadataImage, req: AlterPartitionRequest): Decision {
  const ctx = { partition: req.partition, nodeId: req.brokerId, leaderEpoch: req.leaderEpoch };
  const broker = image.brokers.get(req.brokerId);
  if (broker === undefined || broker.brokerEpoch !== req.brokerEpoch) {
    return fail(new RivuletError('STALE_BROKER_EPOCH', `Broker ${req.brokerId} epoch ${req.brokerEpoch} is not current`, ctx));
  }
  if (!image.topicNamesById.has(req.topicId)) return fail(new RivuletError('UNKNOWN_TOPIC_ID', undefined, ctx));
  const p = getPartition(image, req.topicId, req.partition);
  if (p === undefined) return fail(new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', undefined, ctx));
  if (req.leaderEpoch > p.leaderEpoch) {
    return fail(new RivuletError('NOT_CONTROLLER', `Leader epoch ${req.leaderEpoch} is newer than the controller's ${p.leaderEpoch}`, ctx));
  }
  if (req.leaderEpoch < p.leaderEpoch) {
    return fail(new RivuletError('FENCED_LEADER_EPOCH', `Leader epoch ${req.leaderEpoch} is older than ${p.leaderEpoch}`, ctx));
  }
  if (req.brokerId !== p.leader) {
    return fail(new RivuletError('INVALID_REQUEST', `Broker ${req.brokerId} is not the leader (${p.leader})`, { ...ctx, leaderId: p.leader }));
  }
  if (req.partitionEpoch > p.partitionEpoch) {
    return fail(new RivuletError('NOT_CONTROLLER', `Partition epoch ${req.partitionEpoch} is newer than ${p.partitionEpoch}`, ctx));
  }
  if (req.partitionEpoch < p.partitionEpoch) {
    return fail(new RivuletError('INVALID_UPDATE_VERSION', `Partition epoch ${req.partitionEpoch} is older than ${p.partitionEpoch}`, ctx));
  }
  if (new Set(req.newIsr).size !== req.newIsr.length || !req.newIsr.every((id) => p.replicas.includes(id))) {
    return fail(new RivuletError('INVALID_REQUEST', `ISR [${req.newIsr.join(',')}] is not a set of replicas [${p.replicas.join(',')}]`, ctx));
  }
  if (!req.newIsr.includes(p.leader)) {
    return fail(new RivuletError('INVALID_REQUEST', `ISR [${req.newIsr.join(',')}] does not contain the leader ${p.leader}`, ctx));
  }
  const ineligible = req.newIsr.filter((id) => !p.isr.includes(id) && !isEligible(image, id));
  if (ineligible.length > 0) {
    return fail(new RivuletError('INELIGIBLE_REPLICA', `Replicas [${ineligible.join(',')}] are fenced, shutting down or unregistered`, ctx));
  }
  if (sameMembers(req.newIsr, p.isr)) return ok([]);
  const change: PartitionChangeRecord = { type: 'PartitionChange', topicId: p.topicId, partition: p.partition, isr: [...req.newIsr] };
  changedPartition(p, change); // asserts the result is a valid partition
  return ok([change]);
}

/**
 * Moves leadership back to each partition's preferred replica (replicas[0]) where it is in the
 * ISR and eligible, as Kafka's preferred leader election. Restricted to `partitions` if given.
 */
export function electPreferredLeaders(
  image: MetadataImage,
  partitions?: readonly { readonly topicId: string; readonly partition: number }[],
): MetadataRecord[] {
  const wanted = partitions && new Set(partitions.map((tp) => `${tp.topicId}:${tp.partition}`));
  const out: MetadataRecord[] = [];
  for (const p of allPartitions(image)) {
    if (wanted && !wanted.has(`${p.topicId}:${p.partition}`)) continue;
    const preferred = p.replicas[0]!;
    if (p.leader !== preferred && p.isr.includes(preferred) && isEligible(image, preferred)) {
      out.push({ type: 'PartitionChange', topicId: p.topicId, partition: p.partition, leader: preferred });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Heartbeats

export interface BrokerHeartbeatRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  /** The highest metadata offset the broker has applied. */
  readonly currentMetadataOffset: number;
  readonly wantFence: boolean;
  readonly wantShutDown: boolean;
}

export interface BrokerHeartbeatOutcome {
  readonly records: MetadataRecord[];
  /** Whether the broker is fenced once `records` are applied. */
  readonly isFenced: boolean;
  /** The controlled shutdown is complete: the broker may exit. */
  readonly shouldShutDown: boolean;
}

/**
 * A broker heartbeat, as KRaft's: a fenced broker is unfenced once it has applied metadata up
 * to `caughtUpOffset` (the controller picks it, e.g. the committed offset at registration);
 * `wantFence` fences it; `wantShutDown` starts a controlled shutdown, which completes (the
 * broker is fenced and told to exit) once the broker has seen its leaderships move away.
 * The caller also renews the broker's lease (leases.ts).
 */
export function handleBrokerHeartbeat(image: MetadataImage, req: BrokerHeartbeatRequest, caughtUpOffset: number): Result<BrokerHeartbeatOutcome> {
  const found = lookupBroker(image, req.brokerId);
  if (!found.ok) return found;
  const broker = found.value;
  if (broker.brokerEpoch !== req.brokerEpoch) {
    return fail(new RivuletError('STALE_BROKER_EPOCH', `Broker ${req.brokerId} epoch ${req.brokerEpoch} is not ${broker.brokerEpoch}`, { nodeId: req.brokerId }));
  }
  const outcome = (d: Decision, isFenced: boolean, shouldShutDown = false): Result<BrokerHeartbeatOutcome> =>
    d.ok ? ok({ records: d.value, isFenced, shouldShutDown }) : d;
  if (req.wantShutDown) {
    if (broker.state === 'unfenced') return outcome(beginControlledShutdown(image, req.brokerId, req.brokerEpoch), false);
    const leads = [...allPartitions(image)].some((p) => p.leader === req.brokerId);
    const done = !leads && req.currentMetadataOffset >= image.offset;
    if (broker.state === 'fenced') return outcome(ok([]), true, done);
    if (!done) return outcome(ok([]), false);
    return outcome(fenceBroker(image, req.brokerId), true, true);
  }
  if (req.wantFence) return outcome(fenceBroker(image, req.brokerId), true);
  if (broker.state === 'fenced' && req.currentMetadataOffset >= caughtUpOffset) {
    return outcome(unfenceBroker(image, req.brokerId, req.brokerEpoch), false);
  }
  return outcome(ok([]), broker.state === 'fenced');
}

/**
 * Fences every broker in `brokerIds` (e.g. from expiredLeases), each decision made on the image
 * as left by the previous ones, so leaderships never move to a broker fenced in the same batch.
 */
export function fenceBrokers(image: MetadataImage, brokerIds: readonly number[]): Decision {
  const out: MetadataRecord[] = [];
  let scratch = image;
  for (const id of brokerIds) {
    const d = fenceBroker(scratch, id);
    if (!d.ok) return d;
    out.push(...d.value);
    scratch = applyRecords(scratch, d.value, scratch.offset);
  }
  return ok(out);
}

/**
 * Grows a topic to `count` partitions (Kafka's CreatePartitions): the new partitions get the
 * topic's replication factor and continue the leader rotation where the existing ones end.
 */
export function createPartitions(image: MetadataImage, name: string, count: number): Decision {
  const topic = image.topicsByName.get(name);
  if (topic === undefined) return fail(new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist`, { topic: name }));
  const current = topic.partitions.size;
  if (!Number.isSafeInteger(count) || count <= current) {
    return fail(new RivuletError('INVALID_PARTITIONS', `Topic '${name}' has ${current} partitions; the new count must be larger, got ${count}`, { topic: name }));
  }
  const replicationFactor = topic.partitions.get(0)?.replicas.length ?? 1;
  const brokers = [...image.brokers.values()].filter((b) => b.state === 'unfenced').map((b) => ({ id: b.brokerId, rack: b.rack }));
  const placed = placeReplicas({ brokers, partitions: count - current, replicationFactor, startIndex: current });
  if (!placed.ok) return placed;
  return ok(
    placed.value.map((replicas, i) => ({
      type: 'Partition',
      topicId: topic.topicId,
      partition: current + i,
      replicas,
      isr: replicas,
      leader: replicas[0]!,
      leaderEpoch: 0,
      partitionEpoch: 0,
    })),
  );
}

/** One change to a topic config: a new value, or null to remove the key (back to the default). */
export interface TopicConfigChange {
  readonly key: string;
  readonly value: string | null;
}

/**
 * Changes a topic's configs. Values are the broker's to validate before they get here (as for
 * a new topic's); this checks the topic exists and records only what changes.
 */
export function alterTopicConfigs(image: MetadataImage, name: string, changes: readonly TopicConfigChange[]): Decision {
  const topic = image.topicsByName.get(name);
  if (topic === undefined) return fail(new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist`, { topic: name }));
  const keys = changes.map((c) => c.key);
  const duplicate = keys.find((key, i) => keys.indexOf(key) !== i);
  if (duplicate !== undefined) return fail(new RivuletError('INVALID_REQUEST', `Config ${duplicate} of topic '${name}' is changed twice in one request`, { topic: name }));
  const records: MetadataRecord[] = [];
  for (const change of changes) {
    if (change.key === '') return fail(new RivuletError('INVALID_CONFIG', `An empty config name for topic '${name}'`, { topic: name }));
    const current = topic.configs.get(change.key) ?? null;
    if (current !== change.value) records.push({ type: 'TopicConfig', topic: name, key: change.key, value: change.value });
  }
  return ok(records);
}

/** Producer ids per block, as Kafka's ProducerIdManager hands them out. */
export const PRODUCER_ID_BLOCK_SIZE = 1000;

/**
 * Hands a registered broker the next block of producer ids (KIP-730). Once committed, the ids
 * below the new next id are never handed out again, whichever controller decides next.
 */
export function allocateProducerIds(image: MetadataImage, brokerId: number, brokerEpoch: number): Result<{ records: MetadataRecord[]; start: number; length: number }> {
  const found = lookupBroker(image, brokerId);
  if (!found.ok) return found;
  const broker = found.value;
  if (broker.brokerEpoch !== brokerEpoch) {
    return fail(new RivuletError('STALE_BROKER_EPOCH', `broker ${brokerId} asked with epoch ${brokerEpoch}; its registration has epoch ${broker.brokerEpoch}`, { nodeId: brokerId }));
  }
  const start = image.nextProducerId;
  const nextProducerId = start + PRODUCER_ID_BLOCK_SIZE;
  assert(Number.isSafeInteger(nextProducerId), 'producer ids exhausted');
  return ok({ records: [{ type: 'ProducerIds', brokerId, brokerEpoch, nextProducerId }], start, length: PRODUCER_ID_BLOCK_SIZE });
}

export interface TopicOutcome {
  readonly name: string;
  readonly topicId: string;
  readonly error: RivuletError | null;
}

/**
 * Runs a per-topic decision for each item of a batch request (create, delete, add
 * partitions), each on the image as left by the ones before it, so two items of one request
 * cannot contradict each other. Failed items are reported and contribute no records;
 * `validateOnly` reports without records at all.
 */
export function decideTopics<T extends { readonly name: string }>(
  image: MetadataImage,
  items: readonly T[],
  decide: (image: MetadataImage, item: T) => { readonly decision: Decision; readonly topicId: string },
  validateOnly = false,
): { records: MetadataRecord[]; outcomes: TopicOutcome[] } {
  let scratch = image;
  const records: MetadataRecord[] = [];
  const outcomes: TopicOutcome[] = [];
  for (const item of items) {
    const { decision, topicId } = decide(scratch, item);
    if (!decision.ok) {
      outcomes.push({ name: item.name, topicId, error: decision.error });
      continue;
    }
    outcomes.push({ name: item.name, topicId, error: null });
    if (validateOnly) continue;
    records.push(...decision.value);
    scratch = applyRecords(scratch, decision.value, scratch.offset);
  }
  return { records, outcomes };
}
