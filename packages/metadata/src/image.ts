/**
 * MetadataImage: an immutable snapshot of the cluster metadata, as KRaft's MetadataImage.
 * `applyRecord` is pure and deterministic; it asserts on records that describe an impossible
 * state (the controller validates before it commits, so such a record is a bug and the
 * process must crash rather than follow a corrupt view). `imageToRecords` writes a snapshot.
 */
import { assert, unreachable } from '@rivulet/common';
import { NO_LEADER } from './records.js';
import type { Endpoint, MetadataRecord, PartitionChangeRecord, PartitionRecord } from './records.js';

export type BrokerState = 'fenced' | 'unfenced' | 'shuttingDown';

export interface BrokerRegistration {
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly brokerEpoch: number;
  readonly endpoints: readonly Endpoint[];
  readonly rack: string | null;
  readonly state: BrokerState;
}

export interface PartitionRegistration {
  readonly topicId: string;
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  /**
   * A reassignment in progress (KIP-455): `replicas` is the target order followed by the
   * removing replicas; the adding ones are in `replicas` but not yet in sync. Both are empty
   * when no reassignment is in progress. The target is `replicas` without `removingReplicas`.
   */
  readonly addingReplicas: readonly number[];
  readonly removingReplicas: readonly number[];
}

export interface TopicImage {
  readonly name: string;
  readonly topicId: string;
  /** Partitions by index, 0..n-1. */
  readonly partitions: ReadonlyMap<number, PartitionRegistration>;
  readonly configs: ReadonlyMap<string, string>;
}

export interface MetadataImage {
  /** Offset of the last record applied; -1 for the empty image. */
  readonly offset: number;
  readonly brokers: ReadonlyMap<number, BrokerRegistration>;
  readonly topicsByName: ReadonlyMap<string, TopicImage>;
  /** topicId → topic name. */
  readonly topicNamesById: ReadonlyMap<string, string>;
  /** The first idempotent-producer id not yet handed to any broker. */
  readonly nextProducerId: number;
}

/**
 * Producer ids start at 1: 0 is what @platformatic/kafka sends as "no id yet" in
 * InitProducerId v3+, so it is never one of ours.
 */
export const FIRST_PRODUCER_ID = 1;

export const EMPTY_IMAGE: MetadataImage = Object.freeze({
  offset: -1,
  brokers: new Map(),
  topicsByName: new Map(),
  topicNamesById: new Map(),
  nextProducerId: FIRST_PRODUCER_ID,
});

export function topicById(image: MetadataImage, topicId: string): TopicImage | undefined {
  const name = image.topicNamesById.get(topicId);
  return name === undefined ? undefined : image.topicsByName.get(name);
}

export function getPartition(image: MetadataImage, topicId: string, partition: number): PartitionRegistration | undefined {
  return topicById(image, topicId)?.partitions.get(partition);
}

/** Every partition, topics in name order and partitions in index order. */
export function* allPartitions(image: MetadataImage): Generator<PartitionRegistration> {
  for (const name of [...image.topicsByName.keys()].sort()) {
    const topic = image.topicsByName.get(name)!;
    for (const p of [...topic.partitions.keys()].sort((a, b) => a - b)) yield topic.partitions.get(p)!;
  }
}

function withMap<K, V>(map: ReadonlyMap<K, V>, key: K, value: V | undefined): Map<K, V> {
  const next = new Map(map);
  if (value === undefined) next.delete(key);
  else next.set(key, value);
  return next;
}

function assertPartitionShape(p: PartitionRegistration, what: string): void {
  assert(p.replicas.length > 0, `${what}: replicas must not be empty`);
  assert(new Set(p.replicas).size === p.replicas.length, `${what}: duplicate replicas ${p.replicas.join(',')}`);
  assert(new Set(p.isr).size === p.isr.length, `${what}: duplicate ISR members ${p.isr.join(',')}`);
  assert(p.isr.length > 0, `${what}: the ISR must never be empty`);
  for (const id of p.isr) assert(p.replicas.includes(id), `${what}: ISR member ${id} is not a replica`);
  if (p.leader !== NO_LEADER) {
    assert(p.replicas.includes(p.leader), `${what}: leader ${p.leader} is not in replicas`);
    assert(p.isr.includes(p.leader), `${what}: leader ${p.leader} is not in the ISR`);
  }
  assert(p.leaderEpoch >= 0 && p.partitionEpoch >= 0, `${what}: negative epoch`);
  for (const id of p.addingReplicas) {
    assert(p.replicas.includes(id), `${what}: adding replica ${id} is not a replica`);
    assert(!p.removingReplicas.includes(id), `${what}: replica ${id} is both adding and removing`);
  }
  for (const id of p.removingReplicas) assert(p.replicas.includes(id), `${what}: removing replica ${id} is not a replica`);
  assert(new Set(p.addingReplicas).size === p.addingReplicas.length, `${what}: duplicate adding replicas`);
  assert(new Set(p.removingReplicas).size === p.removingReplicas.length, `${what}: duplicate removing replicas`);
  assert(p.removingReplicas.length < p.replicas.length, `${what}: every replica is being removed`);
}

function withTopic(image: MetadataImage, topic: TopicImage): MetadataImage {
  return { ...image, topicsByName: withMap(image.topicsByName, topic.name, topic) };
}

function applyPartition(image: MetadataImage, r: PartitionRecord): MetadataImage {
  const topic = topicById(image, r.topicId);
  const what = `Partition ${r.topicId}/${r.partition}`;
  assert(topic !== undefined, `${what}: unknown topic id`);
  assert(!topic.partitions.has(r.partition), `${what}: partition already exists`);
  const p: PartitionRegistration = {
    topicId: r.topicId,
    partition: r.partition,
    replicas: [...r.replicas],
    isr: [...r.isr],
    leader: r.leader,
    leaderEpoch: r.leaderEpoch,
    partitionEpoch: r.partitionEpoch,
    addingReplicas: [...(r.addingReplicas ?? [])],
    removingReplicas: [...(r.removingReplicas ?? [])],
  };
  assertPartitionShape(p, what);
  return withTopic(image, { ...topic, partitions: withMap(topic.partitions, r.partition, p) });
}

/** The partition a PartitionChange produces, without applying it (asserts as apply would). */
export function changedPartition(current: PartitionRegistration, r: PartitionChangeRecord): PartitionRegistration {
  const leader = r.leader ?? current.leader;
  const next: PartitionRegistration = {
    ...current,
    replicas: r.replicas ? [...r.replicas] : current.replicas,
    isr: r.isr ? [...r.isr] : current.isr,
    addingReplicas: r.addingReplicas ? [...r.addingReplicas] : current.addingReplicas,
    removingReplicas: r.removingReplicas ? [...r.removingReplicas] : current.removingReplicas,
    leader,
    leaderEpoch: leader !== current.leader ? current.leaderEpoch + 1 : current.leaderEpoch,
    partitionEpoch: current.partitionEpoch + 1,
  };
  assertPartitionShape(next, `PartitionChange ${r.topicId}/${r.partition}`);
  return next;
}

function applyPartitionChange(image: MetadataImage, r: PartitionChangeRecord): MetadataImage {
  const topic = topicById(image, r.topicId);
  const what = `PartitionChange ${r.topicId}/${r.partition}`;
  assert(topic !== undefined, `${what}: unknown topic id`);
  const current = topic.partitions.get(r.partition);
  assert(current !== undefined, `${what}: unknown partition`);
  const next = changedPartition(current, r);
  return withTopic(image, { ...topic, partitions: withMap(topic.partitions, r.partition, next) });
}

function setBrokerState(image: MetadataImage, brokerId: number, brokerEpoch: number, state: BrokerState, what: string): MetadataImage {
  const broker = image.brokers.get(brokerId);
  assert(broker !== undefined, `${what}: unknown broker ${brokerId}`);
  assert(broker.brokerEpoch === brokerEpoch, `${what}: broker ${brokerId} epoch ${brokerEpoch} != registered ${broker.brokerEpoch}`);
  return { ...image, brokers: withMap(image.brokers, brokerId, { ...broker, state }) };
}

/**
 * Applies one committed record at `offset` (offsets never go back). Pure: returns a new
 * image and leaves the argument untouched. Asserts on impossible records.
 */
export function applyRecord(image: MetadataImage, record: MetadataRecord, offset: number): MetadataImage {
  assert(Number.isSafeInteger(offset) && offset >= image.offset, `record offset ${offset} is below the image offset ${image.offset}`);
  const next = applyInner(image, record);
  return next.offset === offset ? next : { ...next, offset };
}

function applyInner(image: MetadataImage, r: MetadataRecord): MetadataImage {
  switch (r.type) {
    case 'RegisterBroker': {
      const existing = image.brokers.get(r.brokerId);
      if (existing !== undefined) {
        assert(r.brokerEpoch > existing.brokerEpoch, `RegisterBroker ${r.brokerId}: epoch ${r.brokerEpoch} must exceed ${existing.brokerEpoch}`);
      }
      const broker: BrokerRegistration = {
        brokerId: r.brokerId,
        incarnationId: r.incarnationId,
        brokerEpoch: r.brokerEpoch,
        endpoints: r.endpoints.map((e) => ({ ...e })),
        rack: r.rack,
        state: 'fenced',
      };
      return { ...image, brokers: withMap(image.brokers, r.brokerId, broker) };
    }
    case 'UnregisterBroker': {
      const broker = image.brokers.get(r.brokerId);
      assert(broker !== undefined, `UnregisterBroker: unknown broker ${r.brokerId}`);
      assert(broker.brokerEpoch === r.brokerEpoch, `UnregisterBroker ${r.brokerId}: stale epoch ${r.brokerEpoch}`);
      for (const p of allPartitions(image)) {
        assert(p.leader !== r.brokerId, `UnregisterBroker ${r.brokerId}: still leads ${p.topicId}/${p.partition}`);
      }
      return { ...image, brokers: withMap(image.brokers, r.brokerId, undefined) };
    }
    case 'FenceBroker':
      return setBrokerState(image, r.brokerId, r.brokerEpoch, 'fenced', 'FenceBroker');
    case 'UnfenceBroker':
      return setBrokerState(image, r.brokerId, r.brokerEpoch, 'unfenced', 'UnfenceBroker');
    case 'BrokerShuttingDown':
      return setBrokerState(image, r.brokerId, r.brokerEpoch, 'shuttingDown', 'BrokerShuttingDown');
    case 'Topic': {
      assert(r.name.length > 0, 'Topic: empty name');
      assert(!image.topicsByName.has(r.name), `Topic ${r.name}: name already exists`);
      assert(!image.topicNamesById.has(r.topicId), `Topic ${r.name}: id ${r.topicId} already exists`);
      const topic: TopicImage = { name: r.name, topicId: r.topicId, partitions: new Map(), configs: new Map() };
      return {
        ...image,
        topicsByName: withMap(image.topicsByName, r.name, topic),
        topicNamesById: withMap(image.topicNamesById, r.topicId, r.name),
      };
    }
    case 'Partition':
      return applyPartition(image, r);
    case 'PartitionChange':
      return applyPartitionChange(image, r);
    case 'TopicConfig': {
      const topic = image.topicsByName.get(r.topic);
      assert(topic !== undefined, `TopicConfig: unknown topic ${r.topic}`);
      return withTopic(image, { ...topic, configs: withMap(topic.configs, r.key, r.value ?? undefined) });
    }
    case 'ProducerIds':
      assert(r.nextProducerId > image.nextProducerId, `ProducerIds: next id ${r.nextProducerId} must exceed ${image.nextProducerId}`);
      return { ...image, nextProducerId: r.nextProducerId };
    case 'RemoveTopic': {
      const name = image.topicNamesById.get(r.topicId);
      assert(name !== undefined, `RemoveTopic: unknown topic id ${r.topicId}`);
      return {
        ...image,
        topicsByName: withMap(image.topicsByName, name, undefined),
        topicNamesById: withMap(image.topicNamesById, r.topicId, undefined),
      };
    }
    default:
      return unreachable(r, 'unknown metadata record');
  }
}

/** Applies records in order, each at `offset`, e.g. a snapshot's records at the snapshot offset. */
export function applyRecords(image: MetadataImage, records: Iterable<MetadataRecord>, offset: number): MetadataImage {
  let next = image;
  for (const r of records) next = applyRecord(next, r, offset);
  return next;
}

/**
 * A snapshot: records that rebuild an equal image when applied to the empty image
 * (`imageFromRecords(imageToRecords(img), img.offset)`). Output order is deterministic.
 */
export function imageToRecords(image: MetadataImage): MetadataRecord[] {
  const out: MetadataRecord[] = [];
  for (const id of [...image.brokers.keys()].sort((a, b) => a - b)) {
    const b = image.brokers.get(id)!;
    out.push({
      type: 'RegisterBroker',
      brokerId: b.brokerId,
      incarnationId: b.incarnationId,
      brokerEpoch: b.brokerEpoch,
      endpoints: b.endpoints.map((e) => ({ ...e })),
      rack: b.rack,
    });
    if (b.state === 'unfenced') out.push({ type: 'UnfenceBroker', brokerId: id, brokerEpoch: b.brokerEpoch });
    if (b.state === 'shuttingDown') out.push({ type: 'BrokerShuttingDown', brokerId: id, brokerEpoch: b.brokerEpoch });
  }
  for (const name of [...image.topicsByName.keys()].sort()) {
    const t = image.topicsByName.get(name)!;
    out.push({ type: 'Topic', name, topicId: t.topicId });
    for (const key of [...t.configs.keys()].sort()) out.push({ type: 'TopicConfig', topic: name, key, value: t.configs.get(key)! });
    for (const idx of [...t.partitions.keys()].sort((a, b) => a - b)) {
      const p = t.partitions.get(idx)!;
      // Written only while a reassignment is in progress, so other records keep their old bytes.
      const reassignment = p.addingReplicas.length + p.removingReplicas.length > 0 ? { addingReplicas: [...p.addingReplicas], removingReplicas: [...p.removingReplicas] } : {};
      out.push({
        type: 'Partition',
        topicId: p.topicId,
        partition: p.partition,
        replicas: [...p.replicas],
        isr: [...p.isr],
        leader: p.leader,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        ...reassignment,
      });
    }
  }
  if (image.nextProducerId > FIRST_PRODUCER_ID) out.push({ type: 'ProducerIds', brokerId: -1, brokerEpoch: -1, nextProducerId: image.nextProducerId });
  return out;
}

export function imageFromRecords(records: Iterable<MetadataRecord>, offset: number): MetadataImage {
  return applyRecords(EMPTY_IMAGE, records, offset);
}
