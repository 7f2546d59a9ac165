import { describe, expect, it } from 'vitest';
import { createTopic, fenceBroker, handleAlterPartition } from './decisions.js';
import type { Decision } from './decisions.js';
import { EMPTY_IMAGE, allPartitions, imageFromRecords, imageToRecords } from './image.js';
import type { MetadataImage, PartitionRegistration } from './image.js';
import {
  cancelReassignment,
  completeReassignments,
  decideReassignments,
  drainBroker,
  listReassignments,
  planDrain,
  startReassignment,
} from './reassignment.js';
import { decodeRecordList, encodeRecordList } from './records.js';
import type { MetadataRecord, PartitionRecord } from './records.js';
import { apply, clusterImage } from './test-helpers.js';

function records(d: Decision): MetadataRecord[] {
  if (!d.ok) throw d.error;
  return d.value;
}

function errorOf(d: { ok: boolean; error?: { errorName: string; message: string } }): string {
  return d.ok ? 'ok' : d.error!.errorName;
}

/** Brokers 1..n; topic `t` (id T) with one partition on `replicas`, all in sync, replicas[0] leading. */
function withPartition(n: number, replicas: number[], racks?: string[]): MetadataImage {
  const img = clusterImage(n, racks);
  const partition: PartitionRecord = { type: 'Partition', topicId: 'T', partition: 0, replicas, isr: replicas, leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0 };
  return apply(img, [{ type: 'Topic', name: 't', topicId: 'T' }, partition]);
}

function part(img: MetadataImage, topic = 't', partition = 0): PartitionRegistration {
  return img.topicsByName.get(topic)!.partitions.get(partition)!;
}

/** The ISR change a leader would send once a follower caught up. */
function expandIsr(img: MetadataImage, newIsr: number[], topic = 't', partition = 0): MetadataImage {
  const p = part(img, topic, partition);
  const broker = img.brokers.get(p.leader)!;
  return apply(
    img,
    records(handleAlterPartition(img, { brokerId: p.leader, brokerEpoch: broker.brokerEpoch, topicId: p.topicId, partition, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr })),
  );
}

describe('startReassignment', () => {
  it('adds replicas: target first, then the removing ones; adding stays out of the ISR and the reassignment waits', () => {
    const img = withPartition(4, [1, 2, 3]);
    const next = apply(img, records(startReassignment(img, 't', 0, [2, 3, 4])));
    const p = part(next);
    expect(p).toMatchObject({ replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, partitionEpoch: 1 });
    expect(listReassignments(next)).toEqual([
      { topic: 't', partition: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1], isr: [1, 2, 3], leader: 1, addingNotInIsr: [4] },
    ]);
    expect(completeReassignments(next)).toEqual([]);
  });

  it('completes at once when the target is already in sync: a pure removal trims the ISR and moves a removed leader', () => {
    const img = withPartition(3, [1, 2, 3]);
    const next = apply(img, records(startReassignment(img, 't', 0, [2, 3])));
    expect(part(next)).toMatchObject({ replicas: [2, 3], isr: [2, 3], leader: 2, leaderEpoch: 1, addingReplicas: [], removingReplicas: [] });
    expect(listReassignments(next)).toEqual([]);
  });

  it('a pure reorder completes at once and keeps the leader', () => {
    const img = withPartition(3, [1, 2, 3]);
    const decided = records(startReassignment(img, 't', 0, [3, 1, 2]));
    expect(decided).toEqual([{ type: 'PartitionChange', topicId: 'T', partition: 0, replicas: [3, 1, 2] }]);
    expect(part(apply(img, decided))).toMatchObject({ replicas: [3, 1, 2], leader: 1, leaderEpoch: 0 });
  });

  it('changes nothing for the current replicas and may change the replication factor', () => {
    const img = withPartition(4, [1, 2]);
    expect(records(startReassignment(img, 't', 0, [1, 2]))).toEqual([]);
    const grown = apply(img, records(startReassignment(img, 't', 0, [1, 2, 3, 4])));
    expect(part(grown)).toMatchObject({ replicas: [1, 2, 3, 4], addingReplicas: [3, 4], removingReplicas: [] });
  });

  it('completes once an ISR change brings every target replica in sync; the removed leader hands over', () => {
    const img = withPartition(4, [1, 2, 3]);
    let next = apply(img, records(startReassignment(img, 't', 0, [4, 2, 3])));
    expect(completeReassignments(next)).toEqual([]);
    next = expandIsr(next, [1, 2, 3, 4]);
    const completion = completeReassignments(next);
    expect(completion).toEqual([{ type: 'PartitionChange', topicId: 'T', partition: 0, replicas: [4, 2, 3], isr: [2, 3, 4], leader: 4, addingReplicas: [], removingReplicas: [] }]);
    const done = part(apply(next, completion));
    expect(done).toMatchObject({ replicas: [4, 2, 3], isr: [2, 3, 4], leader: 4, leaderEpoch: 1, addingReplicas: [], removingReplicas: [] });
  });

  it('waits to complete while no target replica in the ISR may lead, and completes once one may', () => {
    let img = withPartition(4, [1, 2]);
    img = apply(img, records(startReassignment(img, 't', 0, [3])));
    img = expandIsr(img, [1, 2, 3]);
    // Broker 3 is in the ISR but shutting down: completing would leave the partition without a leader.
    img = apply(img, [{ type: 'BrokerShuttingDown', brokerId: 3, brokerEpoch: 103 }]);
    expect(completeReassignments(img)).toEqual([]);
    expect(part(img)).toMatchObject({ leader: 1, addingReplicas: [3], removingReplicas: [1, 2] });
    img = apply(img, [{ type: 'UnfenceBroker', brokerId: 3, brokerEpoch: 103 }]);
    img = apply(img, completeReassignments(img));
    expect(part(img)).toMatchObject({ replicas: [3], isr: [3], leader: 3, addingReplicas: [], removingReplicas: [] });
  });

  it('replaces a reassignment in progress: the original replicas stay the revert point', () => {
    const img = withPartition(5, [1, 2, 3]);
    let next = apply(img, records(startReassignment(img, 't', 0, [1, 2, 4])));
    expect(part(next)).toMatchObject({ replicas: [1, 2, 4, 3], addingReplicas: [4], removingReplicas: [3] });
    next = apply(next, records(startReassignment(next, 't', 0, [1, 2, 5])));
    // 4 was only being added: dropped at once; 3 is still an original replica being removed.
    expect(part(next)).toMatchObject({ replicas: [1, 2, 5, 3], addingReplicas: [5], removingReplicas: [3], isr: [1, 2, 3] });
    next = apply(next, records(cancelReassignment(next, 't', 0)));
    expect(part(next)).toMatchObject({ replicas: [1, 2, 3], addingReplicas: [], removingReplicas: [], isr: [1, 2, 3], leader: 1 });
  });

  it.each([
    ['an unknown topic', 'nope', 0, [1], 'UNKNOWN_TOPIC_OR_PARTITION', /Topic 'nope' does not exist/],
    ['an unknown partition', 't', 7, [1], 'UNKNOWN_TOPIC_OR_PARTITION', /has no partition 7/],
    ['an empty target', 't', 0, [], 'INVALID_REPLICA_ASSIGNMENT', /are empty/],
    ['a duplicate broker', 't', 0, [1, 2, 1], 'INVALID_REPLICA_ASSIGNMENT', /name broker 1 more than once/],
    ['an unregistered broker', 't', 0, [1, 9], 'INVALID_REPLICA_ASSIGNMENT', /broker 9, which is not registered/],
    ['a negative id', 't', 0, [1, -3], 'INVALID_REPLICA_ASSIGNMENT', /not a broker id/],
  ])('refuses %s', (_what, topic, partition, target, code, message) => {
    const d = startReassignment(withPartition(3, [1, 2]), topic, partition, target);
    expect(errorOf(d)).toBe(code);
    expect(d.ok ? '' : d.error.message).toMatch(message);
  });

  it('accepts a fenced but registered broker as a target', () => {
    let img = withPartition(3, [1, 2]);
    img = apply(img, records(fenceBroker(img, 3)));
    expect(part(apply(img, records(startReassignment(img, 't', 0, [1, 3]))))).toMatchObject({ addingReplicas: [3], removingReplicas: [2] });
  });
});

describe('cancelReassignment', () => {
  it('reverts to the original replicas, trims the ISR and re-elects a leader that was being added', () => {
    let img = withPartition(4, [1, 2]);
    img = apply(img, records(startReassignment(img, 't', 0, [3, 4])));
    img = expandIsr(img, [1, 2, 3]);
    // Broker 3 (adding, in sync) leads, e.g. after a preferred-leader election.
    img = apply(img, [{ type: 'PartitionChange', topicId: 'T', partition: 0, leader: 3 }]);
    const next = apply(img, records(cancelReassignment(img, 't', 0)));
    expect(part(next)).toMatchObject({ replicas: [1, 2], isr: [1, 2], leader: 1, addingReplicas: [], removingReplicas: [] });
  });

  it('refuses with NO_REASSIGNMENT_IN_PROGRESS when there is none, and for unknown partitions', () => {
    const img = withPartition(3, [1, 2]);
    expect(errorOf(cancelReassignment(img, 't', 0))).toBe('NO_REASSIGNMENT_IN_PROGRESS');
    expect(errorOf(cancelReassignment(img, 't', 3))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});

describe('decideReassignments', () => {
  it('reports each entry; failed ones add no records', () => {
    const img = withPartition(4, [1, 2]);
    const { records: recs, outcomes } = decideReassignments(img, [
      { topic: 't', partition: 0, targetReplicas: [3, 4] },
      { topic: 't', partition: 0, targetReplicas: [3, 3] },
      { topic: 'x', partition: 0, targetReplicas: null },
    ]);
    expect(outcomes.map((o) => o.error?.errorName ?? 'ok')).toEqual(['ok', 'INVALID_REPLICA_ASSIGNMENT', 'UNKNOWN_TOPIC_OR_PARTITION']);
    expect(recs).toHaveLength(1);
  });
});

describe('records and snapshots', () => {
  it('a Partition record without reassignment fields (older records) decodes with none in progress', () => {
    const old = new TextEncoder().encode(
      JSON.stringify({ v: 1, records: [{ type: 'Topic', name: 't', topicId: 'T' }, { type: 'Partition', topicId: 'T', partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }] }),
    );
    const decoded = decodeRecordList(old);
    const p = part(apply(clusterImage(1), decoded));
    expect(p.addingReplicas).toEqual([]);
    expect(p.removingReplicas).toEqual([]);
  });

  it('PartitionChange records carry adding and removing replicas through the codec, and malformed ones are refused', () => {
    const change: MetadataRecord = { type: 'PartitionChange', topicId: 'T', partition: 0, replicas: [2, 3, 1], addingReplicas: [3], removingReplicas: [1] };
    expect(decodeRecordList(encodeRecordList([change]))).toEqual([change]);
    const bad = new TextEncoder().encode(JSON.stringify({ v: 1, records: [{ ...change, addingReplicas: ['3'] }] }));
    expect(() => decodeRecordList(bad)).toThrow(/addingReplicas must be an array of broker ids/);
    const badPartition = new TextEncoder().encode(
      JSON.stringify({ v: 1, records: [{ type: 'Partition', topicId: 'T', partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0, removingReplicas: 1 }] }),
    );
    expect(() => decodeRecordList(badPartition)).toThrow(/removingReplicas must be an array of broker ids/);
  });

  it('a snapshot keeps a reassignment in progress and round-trips through the record codec', () => {
    let img = withPartition(4, [1, 2]);
    img = apply(img, records(startReassignment(img, 't', 0, [2, 3])));
    const snapshot = decodeRecordList(encodeRecordList(imageToRecords(img)));
    const rebuilt = imageFromRecords(snapshot, img.offset);
    expect(part(rebuilt)).toEqual(part(img));
    expect(rebuilt).toEqual(img);
    expect(imageFromRecords(imageToRecords(EMPTY_IMAGE), -1)).toEqual(EMPTY_IMAGE);
  });
});

describe('planDrain and drainBroker', () => {
  function topicImage(brokers: number, partitions: number, rf: number, racks?: string[]): MetadataImage {
    const img = clusterImage(brokers, racks);
    return apply(img, records(createTopic(img, { name: 'd', partitions, replicationFactor: rf }, 'D')));
  }

  it('replaces the broker in every partition it holds, in place, spreading over the least loaded brokers', () => {
    const img = topicImage(4, 6, 2);
    const plan = planDrain(img, 2);
    if (!plan.ok) throw plan.error;
    const held = [...allPartitions(img)].filter((p) => p.replicas.includes(2));
    expect(plan.value.map((m) => m.partition)).toEqual(held.map((p) => p.partition));
    for (const move of plan.value) {
      const before = part(img, 'd', move.partition).replicas;
      expect(move.targetReplicas).not.toContain(2);
      expect(move.targetReplicas).toHaveLength(before.length);
      // In place: the other replicas keep their positions.
      before.forEach((id, i) => {
        if (id !== 2) expect(move.targetReplicas[i]).toBe(id);
      });
    }
    // Brokers 1, 3 and 4 each held 3 replicas: the 3 moved ones go one to each.
    const receivers = plan.value.map((m) => m.targetReplicas.find((id) => !part(img, 'd', m.partition).replicas.includes(id)));
    expect(new Set(receivers).size).toBe(3);
  });

  it('prefers a rack the partition does not use yet', () => {
    // Racks: 1→a, 2→b, 3→a, 4→c. Partition on [1,2]: draining 2 must pick 4 (rack c), not 3 (rack a, used by 1).
    const img = withPartition(4, [1, 2], ['a', 'b', 'a', 'c']);
    const plan = planDrain(img, 2);
    expect(plan.ok && plan.value.map((m) => m.targetReplicas)).toEqual([[1, 4]]);
  });

  it('breaks replica-count ties by leader count, then id', () => {
    // Brokers 3, 4 and 5 hold one replica each; 3 and 4 lead theirs, 5 leads none: 5 takes broker 2's replica.
    let img = clusterImage(5);
    const p = (topicId: string, replicas: number[]): MetadataRecord => ({ type: 'Partition', topicId, partition: 0, replicas, isr: replicas, leader: replicas[0]!, leaderEpoch: 0, partitionEpoch: 0 });
    img = apply(img, [
      { type: 'Topic', name: 't', topicId: 'T' },
      { type: 'Topic', name: 'u', topicId: 'U' },
      { type: 'Topic', name: 'v', topicId: 'V' },
      p('T', [1, 2]),
      p('U', [3]),
      p('V', [4, 5]),
    ]);
    const plan = planDrain(img, 2);
    expect(plan.ok && plan.value[0]!.targetReplicas).toEqual([1, 5]);
  });

  it('starts the reassignments and moves leadership off the drained broker at once', () => {
    const img = topicImage(4, 4, 2);
    const led = [...allPartitions(img)].filter((p) => p.leader === 1);
    expect(led.length).toBeGreaterThan(0);
    const drained = drainBroker(img, 1);
    if (!drained.ok) throw drained.error;
    const next = apply(img, drained.value.records);
    for (const p of allPartitions(next)) {
      expect(p.leader).not.toBe(1);
      if (part(img, 'd', p.partition).replicas.includes(1)) {
        expect(p.removingReplicas).toEqual([1]);
        expect(p.addingReplicas).toHaveLength(1);
        expect(p.replicas[p.replicas.length - 1]).toBe(1);
      } else {
        expect(p.addingReplicas).toEqual([]);
      }
    }
    expect(listReassignments(next)).toHaveLength(drained.value.moves.length);
  });

  it('refuses an unknown broker and a drain with no eligible broker, deciding nothing', () => {
    const img = topicImage(3, 3, 3);
    expect(errorOf(drainBroker(img, 9))).toBe('BROKER_ID_NOT_REGISTERED');
    const refused = drainBroker(img, 2);
    expect(errorOf(refused)).toBe('INVALID_REPLICATION_FACTOR');
    expect(refused.ok ? '' : refused.error.message).toMatch(/Cannot drain broker 2: no unfenced broker outside the replicas/);
    // A fenced broker is not eligible either.
    let four = topicImage(4, 3, 3);
    four = apply(four, records(fenceBroker(four, 4)));
    expect(errorOf(drainBroker(four, 2))).toBe('INVALID_REPLICATION_FACTOR');
  });

  it('leaves partitions that already remove the broker alone, and a broker with no replicas drains to nothing', () => {
    let img = withPartition(4, [1, 2]);
    img = apply(img, records(startReassignment(img, 't', 0, [1, 3])));
    expect(planDrain(img, 2)).toEqual({ ok: true, value: [] });
    expect(planDrain(img, 4)).toEqual({ ok: true, value: [] });
  });
});
