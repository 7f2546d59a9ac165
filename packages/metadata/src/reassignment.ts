/**
 * Partition reassignment (Kafka's KIP-455) and broker drain, as pure decisions over the
 * committed image. While a reassignment is in progress a partition's `replicas` are the
 * target replicas in target order followed by the replicas being removed; `addingReplicas`
 * are target replicas that were not replicas before, and `removingReplicas` are old replicas
 * the target leaves out. The old replicas keep serving until every target replica is in the
 * ISR; then the reassignment completes: replicas become the target, the ISR is trimmed to it
 * and leadership leaves a removed leader. Until replication exists, an adding replica never
 * joins the ISR by itself, so only reorders and pure removals complete; the rest wait for
 * the AlterPartition that adds them to the ISR.
 */
import { RivuletError, assert } from '@rivulet/common';
import { isEligible } from './decisions.js';
import type { Decision } from './decisions.js';
import { allPartitions, applyRecords, changedPartition, topicById } from './image.js';
import type { MetadataImage, PartitionRegistration, TopicImage } from './image.js';
import { fail, ok } from './placement.js';
import type { Result } from './placement.js';
import { NO_LEADER } from './records.js';
import type { MetadataRecord, PartitionChangeRecord } from './records.js';

type MutableChange = { -readonly [K in keyof PartitionChangeRecord]: PartitionChangeRecord[K] };

/** The replicas a partition ends up with: `replicas` without the ones being removed. */
export function targetReplicas(p: PartitionRegistration): number[] {
  return p.replicas.filter((id) => !p.removingReplicas.includes(id));
}

export function isReassigning(p: PartitionRegistration): boolean {
  return p.addingReplicas.length > 0 || p.removingReplicas.length > 0;
}

/** The replicas from before any reassignment: what a cancellation reverts to. */
export function originalReplicas(p: PartitionRegistration): number[] {
  return p.replicas.filter((id) => !p.addingReplicas.includes(id));
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => b[i] === x);
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function lookupPartition(image: MetadataImage, topic: string, partition: number): Result<{ topic: TopicImage; p: PartitionRegistration }> {
  const t = image.topicsByName.get(topic);
  if (t === undefined) return fail(new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${topic}' does not exist`, { topic }));
  const p = t.partitions.get(partition);
  if (p === undefined) {
    return fail(new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${topic}' has no partition ${partition} (it has ${t.partitions.size})`, { topic, partition }));
  }
  return ok({ topic: t, p });
}

/** Kafka's manual-assignment checks: non-empty, no duplicates, every id a registered broker. */
function validateTarget(image: MetadataImage, topic: string, partition: number, target: readonly number[]): RivuletError | undefined {
  const ctx = { topic, partition };
  const where = `${topic}-${partition}`;
  if (target.length === 0) return new RivuletError('INVALID_REPLICA_ASSIGNMENT', `The target replicas of ${where} are empty`, ctx);
  const bad = target.find((id) => !Number.isSafeInteger(id) || id < 0);
  if (bad !== undefined) return new RivuletError('INVALID_REPLICA_ASSIGNMENT', `The target replicas of ${where} include ${bad}, which is not a broker id`, ctx);
  const duplicate = target.find((id, i) => target.indexOf(id) !== i);
  if (duplicate !== undefined) {
    return new RivuletError('INVALID_REPLICA_ASSIGNMENT', `The target replicas [${target.join(',')}] of ${where} name broker ${duplicate} more than once`, ctx);
  }
  const unknown = target.filter((id) => !image.brokers.has(id));
  if (unknown.length > 0) {
    return new RivuletError('INVALID_REPLICA_ASSIGNMENT', `The target replicas of ${where} include broker${unknown.length > 1 ? 's' : ''} ${unknown.join(',')}, which ${unknown.length > 1 ? 'are' : 'is'} not registered`, ctx);
  }
  return undefined;
}

/** The first of `order` that is in `isr` and eligible to lead, or NO_LEADER. */
function firstEligible(image: MetadataImage, order: readonly number[], isr: readonly number[]): number {
  return order.find((id) => isr.includes(id) && isEligible(image, id)) ?? NO_LEADER;
}

/**
 * The partition state once its reassignment completes, or undefined while it cannot: some
 * target replica is not in the ISR yet, or the leader is being removed and no target replica
 * in the ISR is eligible to take over (completing then would leave the partition offline).
 */
function completedState(image: MetadataImage, p: PartitionRegistration): Pick<PartitionRegistration, 'replicas' | 'isr' | 'leader'> | undefined {
  if (!isReassigning(p)) return undefined;
  const target = targetReplicas(p);
  if (!target.every((id) => p.isr.includes(id))) return undefined;
  const isr = p.isr.filter((id) => target.includes(id));
  let leader = p.leader;
  if (!target.includes(leader)) {
    leader = firstEligible(image, target, isr);
    if (leader === NO_LEADER && p.leader !== NO_LEADER) return undefined;
  }
  return { replicas: target, isr, leader };
}

/** A PartitionChange from `p` to `next`, with only the fields that differ; null when none do. */
function changeTo(p: PartitionRegistration, next: Pick<PartitionRegistration, 'replicas' | 'isr' | 'leader' | 'addingReplicas' | 'removingReplicas'>): PartitionChangeRecord | null {
  const change: MutableChange = { type: 'PartitionChange', topicId: p.topicId, partition: p.partition };
  if (!sameList(next.replicas, p.replicas)) change.replicas = [...next.replicas];
  if (!sameMembers(next.isr, p.isr)) change.isr = [...next.isr];
  if (next.leader !== p.leader) change.leader = next.leader;
  if (!sameList(next.addingReplicas, p.addingReplicas)) change.addingReplicas = [...next.addingReplicas];
  if (!sameList(next.removingReplicas, p.removingReplicas)) change.removingReplicas = [...next.removingReplicas];
  if (Object.keys(change).length === 3) return null;
  changedPartition(p, change); // asserts the result is a valid partition
  return change;
}

/**
 * The record that completes `p`'s reassignment if its condition holds (every target replica
 * in the ISR), else null. See completedState.
 */
export function completeReassignment(image: MetadataImage, p: PartitionRegistration): PartitionChangeRecord | null {
  const done = completedState(image, p);
  if (done === undefined) return null;
  return changeTo(p, { ...done, addingReplicas: [], removingReplicas: [] });
}

/** Completes every reassignment whose condition holds (restricted to `partitions` if given). */
export function completeReassignments(image: MetadataImage, partitions?: readonly { readonly topicId: string; readonly partition: number }[]): PartitionChangeRecord[] {
  const wanted = partitions && new Set(partitions.map((tp) => `${tp.topicId}:${tp.partition}`));
  const out: PartitionChangeRecord[] = [];
  for (const p of allPartitions(image)) {
    if (!isReassigning(p) || (wanted && !wanted.has(`${p.topicId}:${p.partition}`))) continue;
    const change = completeReassignment(image, p);
    if (change !== null) out.push(change);
  }
  return out;
}

/**
 * Starts a reassignment of `topic`-`partition` to `target` (Kafka's
 * AlterPartitionReassignments). replicas = target, then the original replicas the target
 * leaves out (removing); adding = target - original. A reassignment already in progress is
 * replaced, as KIP-455 does: the original replicas stay the point a cancellation reverts to,
 * and replicas the replaced reassignment was adding that the new target leaves out are
 * dropped at once (also from the ISR). When the target is already in the ISR (a reorder or a
 * pure removal) the reassignment completes in the same record. The replication factor may
 * change. A target equal to the current replicas with nothing in progress changes nothing.
 */
export function startReassignment(image: MetadataImage, topic: string, partition: number, target: readonly number[]): Decision {
  const found = lookupPartition(image, topic, partition);
  if (!found.ok) return found;
  const { p } = found.value;
  const invalid = validateTarget(image, topic, partition, target);
  if (invalid !== undefined) return fail(invalid);
  const original = originalReplicas(p);
  const removing = original.filter((id) => !target.includes(id));
  const adding = target.filter((id) => !original.includes(id));
  const replicas = [...target, ...removing];
  const isr = p.isr.filter((id) => replicas.includes(id));
  const ctx = { topic, partition };
  if (isr.length === 0) {
    return fail(new RivuletError('INVALID_REPLICA_ASSIGNMENT', `Reassigning ${topic}-${partition} to [${target.join(',')}] would leave no in-sync replica (ISR [${p.isr.join(',')}]); that needs an unclean leader election`, ctx));
  }
  let leader = p.leader;
  if (leader !== NO_LEADER && !isr.includes(leader)) {
    leader = firstEligible(image, replicas, isr);
    if (leader === NO_LEADER) return fail(new RivuletError('ELIGIBLE_LEADERS_NOT_AVAILABLE', `No in-sync replica of ${topic}-${partition} can lead once its leader ${p.leader} is dropped`, ctx));
  }
  let next: PartitionRegistration = { ...p, replicas, isr, leader, addingReplicas: adding, removingReplicas: removing };
  const done = completedState(image, next);
  if (done !== undefined) next = { ...next, ...done, addingReplicas: [], removingReplicas: [] };
  const change = changeTo(p, next);
  return ok(change === null ? [] : [change]);
}

/**
 * Cancels the reassignment of `topic`-`partition` (AlterPartitionReassignments with no
 * target): the replicas revert to the original ones (replicas - adding), the ISR is trimmed
 * to them and, if the leader was an adding replica, the first eligible original replica in
 * the ISR leads. NO_REASSIGNMENT_IN_PROGRESS when there is nothing to cancel.
 */
export function cancelReassignment(image: MetadataImage, topic: string, partition: number): Decision {
  const found = lookupPartition(image, topic, partition);
  if (!found.ok) return found;
  const { p } = found.value;
  const ctx = { topic, partition };
  if (!isReassigning(p)) return fail(new RivuletError('NO_REASSIGNMENT_IN_PROGRESS', `No reassignment of ${topic}-${partition} is in progress`, ctx));
  const replicas = originalReplicas(p);
  const isr = p.isr.filter((id) => replicas.includes(id));
  if (isr.length === 0) {
    return fail(new RivuletError('INVALID_REPLICA_ASSIGNMENT', `Reverting ${topic}-${partition} to [${replicas.join(',')}] would leave no in-sync replica; that needs an unclean leader election`, ctx));
  }
  let leader = p.leader;
  if (leader !== NO_LEADER && !replicas.includes(leader)) {
    leader = firstEligible(image, replicas, isr);
    if (leader === NO_LEADER) return fail(new RivuletError('ELIGIBLE_LEADERS_NOT_AVAILABLE', `No original replica of ${topic}-${partition} in the ISR can lead`, ctx));
  }
  const change = changeTo(p, { replicas, isr, leader, addingReplicas: [], removingReplicas: [] });
  assert(change !== null, 'cancelling a reassignment in progress always changes the partition');
  return ok([change]);
}

// ---------------------------------------------------------------------------------------
// Batches

/** One entry of AlterPartitionReassignments: a target, or null to cancel. */
export interface ReassignmentEntry {
  readonly topic: string;
  readonly partition: number;
  readonly targetReplicas: readonly number[] | null;
}

export interface ReassignmentOutcome {
  readonly topic: string;
  readonly partition: number;
  readonly error: RivuletError | null;
}

/**
 * Decides each entry on the image as left by the ones before it (a later entry for the same
 * partition replaces an earlier one). Failed entries are reported and contribute no records.
 */
export function decideReassignments(image: MetadataImage, entries: readonly ReassignmentEntry[]): { records: MetadataRecord[]; outcomes: ReassignmentOutcome[] } {
  let scratch = image;
  const records: MetadataRecord[] = [];
  const outcomes: ReassignmentOutcome[] = [];
  for (const e of entries) {
    const decision = e.targetReplicas === null ? cancelReassignment(scratch, e.topic, e.partition) : startReassignment(scratch, e.topic, e.partition, e.targetReplicas);
    if (!decision.ok) {
      outcomes.push({ topic: e.topic, partition: e.partition, error: decision.error });
      continue;
    }
    outcomes.push({ topic: e.topic, partition: e.partition, error: null });
    records.push(...decision.value);
    scratch = applyRecords(scratch, decision.value, scratch.offset);
  }
  return { records, outcomes };
}

/** A reassignment in progress, as ListPartitionReassignments reports it. */
export interface ReassignmentStatus {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly addingReplicas: readonly number[];
  readonly removingReplicas: readonly number[];
  readonly isr: readonly number[];
  readonly leader: number;
  /** Adding replicas that have not joined the ISR yet: what the reassignment waits for. */
  readonly addingNotInIsr: readonly number[];
}

/** Reassignments in progress, topics in name order; only `topics` when given (unknown names are skipped). */
export function listReassignments(image: MetadataImage, topics?: readonly string[]): ReassignmentStatus[] {
  const wanted = topics && topics.length > 0 ? new Set(topics) : undefined;
  const out: ReassignmentStatus[] = [];
  for (const p of allPartitions(image)) {
    if (!isReassigning(p)) continue;
    const topic = topicById(image, p.topicId)!.name;
    if (wanted && !wanted.has(topic)) continue;
    out.push({
      topic,
      partition: p.partition,
      replicas: [...p.replicas],
      addingReplicas: [...p.addingReplicas],
      removingReplicas: [...p.removingReplicas],
      isr: [...p.isr],
      leader: p.leader,
      addingNotInIsr: p.addingReplicas.filter((id) => !p.isr.includes(id)),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Drain

/** One reassignment a drain starts: the partition's new target, without the drained broker. */
export interface DrainMove {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly targetReplicas: readonly number[];
}

interface BrokerLoad {
  replicas: number;
  leaders: number;
}

function brokerLoads(image: MetadataImage): Map<number, BrokerLoad> {
  const loads = new Map<number, BrokerLoad>([...image.brokers.keys()].map((id) => [id, { replicas: 0, leaders: 0 }]));
  for (const p of allPartitions(image)) {
    for (const id of targetReplicas(p)) {
      const load = loads.get(id);
      if (load !== undefined) load.replicas++;
    }
    const led = loads.get(p.leader);
    if (led !== undefined) led.leaders++;
  }
  return loads;
}

/**
 * Where each replica on `brokerId` goes (a pure plan; nothing changes): for every partition
 * whose target includes the broker, the broker is replaced in place by an unfenced broker
 * that is not already a replica of it, the least loaded by replica count, then by leader
 * count, then by id; when racks are set, a broker on a rack the partition's other replicas
 * do not use comes first. Loads count the plan's earlier moves, so the replicas spread out.
 * Partitions already removing the broker are left alone. Refused with
 * BROKER_ID_NOT_REGISTERED for an unknown broker and INVALID_REPLICATION_FACTOR when some
 * partition has no eligible broker to move to (the plan is all or nothing).
 */
export function planDrain(image: MetadataImage, brokerId: number): Result<DrainMove[]> {
  if (!image.brokers.has(brokerId)) {
    return fail(new RivuletError('BROKER_ID_NOT_REGISTERED', `Broker ${brokerId} is not registered`, { nodeId: brokerId }));
  }
  const loads = brokerLoads(image);
  const candidates = [...image.brokers.values()].filter((b) => b.brokerId !== brokerId && isEligible(image, b.brokerId));
  const rackOf = new Map([...image.brokers.values()].map((b) => [b.brokerId, b.rack]));
  const moves: DrainMove[] = [];
  for (const p of allPartitions(image)) {
    const target = targetReplicas(p);
    if (!target.includes(brokerId)) continue;
    const topic = topicById(image, p.topicId)!.name;
    const others = target.filter((id) => id !== brokerId);
    const usedRacks = new Set(others.map((id) => rackOf.get(id)).filter((rack): rack is string => rack != null));
    const ranked = candidates
      .filter((b) => !p.replicas.includes(b.brokerId))
      .map((b) => ({ id: b.brokerId, rackPenalty: b.rack != null && !usedRacks.has(b.rack) ? 0 : 1, load: loads.get(b.brokerId)! }))
      .sort((a, b) => a.rackPenalty - b.rackPenalty || a.load.replicas - b.load.replicas || a.load.leaders - b.load.leaders || a.id - b.id);
    const chosen = ranked[0];
    if (chosen === undefined) {
      return fail(
        new RivuletError(
          'INVALID_REPLICATION_FACTOR',
          `Cannot drain broker ${brokerId}: no unfenced broker outside the replicas [${p.replicas.join(',')}] of ${topic}-${p.partition} can take its replica (${candidates.length} other unfenced broker${candidates.length === 1 ? '' : 's'})`,
          { topic, partition: p.partition, nodeId: brokerId },
        ),
      );
    }
    chosen.load.replicas++;
    moves.push({ topic, topicId: p.topicId, partition: p.partition, targetReplicas: target.map((id) => (id === brokerId ? chosen.id : id)) });
  }
  return ok(moves);
}

/**
 * Drains `brokerId`: starts the reassignments planDrain chooses and, where the broker leads,
 * moves leadership at once to the first eligible target replica in the ISR (when there is
 * none, it leads until the reassignment completes). All or nothing.
 */
export function drainBroker(image: MetadataImage, brokerId: number): Result<{ records: MetadataRecord[]; moves: DrainMove[] }> {
  const plan = planDrain(image, brokerId);
  if (!plan.ok) return plan;
  let scratch = image;
  const records: MetadataRecord[] = [];
  for (const move of plan.value) {
    const started = startReassignment(scratch, move.topic, move.partition, move.targetReplicas);
    if (!started.ok) return started;
    scratch = applyRecords(scratch, started.value, scratch.offset);
    records.push(...started.value);
    const p = scratch.topicsByName.get(move.topic)!.partitions.get(move.partition)!;
    if (p.leader !== brokerId) continue;
    const leader = firstEligible(scratch, move.targetReplicas, p.isr);
    if (leader === NO_LEADER) continue;
    const change: PartitionChangeRecord = { type: 'PartitionChange', topicId: p.topicId, partition: p.partition, leader };
    changedPartition(p, change);
    scratch = applyRecords(scratch, [change], scratch.offset);
    records.push(change);
  }
  return ok({ records, moves: plan.value });
}
