import { describe, expect, it } from 'vitest';
import {
  beginControlledShutdown,
  createTopic,
  deleteTopic,
  electPreferredLeaders,
  fenceBroker,
  fenceBrokers,
  handleAlterPartition,
  handleBrokerHeartbeat,
  registerBroker,
  unfenceBroker,
} from './decisions.js';
import type { BrokerHeartbeatRequest, Decision } from './decisions.js';
import { allPartitions, getPartition, imageToRecords } from './image.js';
import type { MetadataImage } from './image.js';
import type { MetadataRecord } from './records.js';
import { apply, clusterImage } from './test-helpers.js';

function records(d: Decision): MetadataRecord[] {
  if (!d.ok) throw d.error;
  return d.value;
}

function errorName(d: Decision): string {
  return d.ok ? 'ok' : d.error.errorName;
}

function topicImage(brokers = 3, partitions = 6, rf = 3): MetadataImage {
  const img = clusterImage(brokers);
  return apply(img, records(createTopic(img, { name: 't', partitions, replicationFactor: rf }, 'T')));
}

describe('createTopic', () => {
  it('creates the topic, configs and partitions with full ISRs', () => {
    const img = clusterImage(3);
    const recs = records(createTopic(img, { name: 'orders', partitions: 4, replicationFactor: 2, configs: { 'retention.ms': '10' } }, 'X'));
    expect(recs[0]).toEqual({ type: 'Topic', name: 'orders', topicId: 'X' });
    expect(recs.filter((r) => r.type === 'Partition')).toHaveLength(4);
    const next = apply(img, recs);
    expect(next.topicsByName.get('orders')!.configs.get('retention.ms')).toBe('10');
  });

  it('places only on unfenced brokers', () => {
    let img = clusterImage(3);
    img = apply(img, records(fenceBroker(img, 2)));
    const next = apply(img, records(createTopic(img, { name: 't', partitions: 6, replicationFactor: 2 }, 'T')));
    for (const p of allPartitions(next)) expect(p.replicas).not.toContain(2);
    expect(errorName(createTopic(img, { name: 'u', partitions: 1, replicationFactor: 3 }, 'U'))).toBe('INVALID_REPLICATION_FACTOR');
  });

  it.each([
    ['t', 1, 1, 'TOPIC_ALREADY_EXISTS'],
    ['u', 0, 1, 'INVALID_PARTITIONS'],
    ['u', 1, 0, 'INVALID_REPLICATION_FACTOR'],
    ['u', 1, 4, 'INVALID_REPLICATION_FACTOR'],
    ['', 1, 1, 'INVALID_TOPIC_EXCEPTION'],
    ['..', 1, 1, 'INVALID_TOPIC_EXCEPTION'],
    ['a b', 1, 1, 'INVALID_TOPIC_EXCEPTION'],
    ['x'.repeat(250), 1, 1, 'INVALID_TOPIC_EXCEPTION'],
  ])('refuses %j partitions=%i rf=%i with %s', (name, partitions, replicationFactor, code) => {
    expect(errorName(createTopic(topicImage(), { name, partitions, replicationFactor }, 'NEW'))).toBe(code);
  });

  it('deleteTopic removes a topic and refuses an unknown one', () => {
    const img = topicImage();
    expect(apply(img, records(deleteTopic(img, 't'))).topicsByName.size).toBe(0);
    expect(errorName(deleteTopic(img, 'nope'))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});

describe('fenceBroker', () => {
  it('moves leaderships to another ISR member and shrinks ISRs', () => {
    const img = topicImage();
    const led = [...allPartitions(img)].filter((p) => p.leader === 1).length;
    expect(led).toBeGreaterThan(0);
    const next = apply(img, records(fenceBroker(img, 1)));
    expect(next.brokers.get(1)!.state).toBe('fenced');
    for (const p of allPartitions(next)) {
      expect(p.leader).not.toBe(1);
      expect(p.leader).not.toBe(-1);
      expect(p.isr).not.toContain(1);
      const before = getPartition(img, p.topicId, p.partition)!;
      expect(p.leaderEpoch).toBe(before.leader === 1 ? before.leaderEpoch + 1 : before.leaderEpoch);
      expect(p.partitionEpoch).toBe(before.partitionEpoch + 1);
    }
  });

  it('keeps the last ISR member and leaves the partition leaderless (no unclean election)', () => {
    let img = topicImage(2, 2, 2);
    img = apply(img, records(fenceBroker(img, 1)));
    img = apply(img, records(fenceBroker(img, 2)));
    for (const p of allPartitions(img)) {
      expect(p.leader).toBe(-1);
      expect(p.isr).toEqual([2]);
    }
    // broker 1 comes back: not in the ISR, so it may not lead
    img = apply(img, records(unfenceBroker(img, 1, 101)));
    for (const p of allPartitions(img)) expect(p.leader).toBe(-1);
    // broker 2, the last ISR member, comes back and leads again
    img = apply(img, records(unfenceBroker(img, 2, 102)));
    for (const p of allPartitions(img)) expect(p.leader).toBe(2);
  });

  it('elects a replica outside the ISR when the topic allows unclean election', () => {
    const base = clusterImage(2);
    let img = apply(base, records(createTopic(base, { name: 't', partitions: 2, replicationFactor: 2, configs: { 'unclean.leader.election.enable': 'true' } }, 'T')));
    // Broker 1 leaves the ISR while alive (it fell behind), then broker 2 dies: with unclean
    // election allowed, broker 1 leads, alone in the ISR, rather than leave the partitions offline.
    for (const p of allPartitions(img)) img = apply(img, [{ type: 'PartitionChange', topicId: p.topicId, partition: p.partition, isr: [2], leader: 2 }]);
    img = apply(img, records(fenceBroker(img, 2)));
    for (const p of allPartitions(img)) expect([p.leader, p.isr]).toEqual([1, [1]]);
    // Both down, broker 2 (not in the ISR now) comes back first: unclean election again.
    img = apply(img, records(fenceBroker(img, 1)));
    for (const p of allPartitions(img)) expect(p.leader).toBe(-1);
    img = apply(img, records(unfenceBroker(img, 2, img.brokers.get(2)!.brokerEpoch)));
    for (const p of allPartitions(img)) expect([p.leader, p.isr]).toEqual([2, [2]]);
  });

  it('refuses an unknown broker and is idempotent for a fenced one', () => {
    let img = topicImage();
    expect(errorName(fenceBroker(img, 9))).toBe('BROKER_ID_NOT_REGISTERED');
    img = apply(img, records(fenceBroker(img, 3)));
    expect(records(fenceBroker(img, 3))).toEqual([]);
  });

  it('controlled shutdown moves leaders and marks the broker shuttingDown', () => {
    const img = topicImage();
    expect(errorName(beginControlledShutdown(img, 2, 1))).toBe('STALE_BROKER_EPOCH');
    const next = apply(img, records(beginControlledShutdown(img, 2, 102)));
    expect(next.brokers.get(2)!.state).toBe('shuttingDown');
    for (const p of allPartitions(next)) expect(p.leader).not.toBe(2);
  });
});

describe('handleAlterPartition', () => {
  const img = topicImage();
  const p = getPartition(img, 'T', 0)!;
  const follower = p.replicas.find((id) => id !== p.leader)!;
  const base = {
    brokerId: p.leader,
    brokerEpoch: 100 + p.leader,
    topicId: 'T',
    partition: 0,
    leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch,
    newIsr: p.isr.filter((id) => id !== follower),
  };

  it('shrinks the ISR and bumps the partition epoch', () => {
    const next = apply(img, records(handleAlterPartition(img, base)));
    const q = getPartition(next, 'T', 0)!;
    expect(q.isr).toEqual(base.newIsr);
    expect(q.partitionEpoch).toBe(p.partitionEpoch + 1);
    expect(q.leaderEpoch).toBe(p.leaderEpoch);
  });

  it('refuses a stale partition epoch, leaving state unchanged', () => {
    const shrunk = apply(img, records(handleAlterPartition(img, base)));
    const before = imageToRecords(shrunk);
    const stale = handleAlterPartition(shrunk, { ...base, newIsr: p.isr });
    expect(errorName(stale)).toBe('INVALID_UPDATE_VERSION');
    expect(imageToRecords(shrunk)).toEqual(before);
  });

  it('refuses a stale leader epoch after a leader change', () => {
    const moved = apply(img, records(fenceBroker(img, p.leader)));
    const newLeader = getPartition(moved, 'T', 0)!.leader;
    expect(errorName(handleAlterPartition(moved, { ...base, brokerId: newLeader, brokerEpoch: 100 + newLeader }))).toBe('FENCED_LEADER_EPOCH');
  });

  it.each([
    ['stale broker epoch', { brokerEpoch: 1 }, 'STALE_BROKER_EPOCH'],
    ['unknown topic id', { topicId: 'nope' }, 'UNKNOWN_TOPIC_ID'],
    ['unknown partition', { partition: 99 }, 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['newer leader epoch', { leaderEpoch: 5 }, 'NOT_CONTROLLER'],
    ['newer partition epoch', { partitionEpoch: 5 }, 'NOT_CONTROLLER'],
    ['ISR outside replicas', { newIsr: [...p.isr, 77] }, 'INVALID_REQUEST'],
    ['ISR without the leader', { newIsr: [follower] }, 'INVALID_REQUEST'],
    ['duplicate ISR members', { newIsr: [p.leader, p.leader] }, 'INVALID_REQUEST'],
  ] as const)('refuses %s', (_what, patch, code) => {
    expect(errorName(handleAlterPartition(img, { ...base, ...patch }))).toBe(code);
  });

  it('refuses a request from a non-leader', () => {
    expect(errorName(handleAlterPartition(img, { ...base, brokerId: follower, brokerEpoch: 100 + follower }))).toBe('INVALID_REQUEST');
  });

  it('refuses adding a fenced replica back to the ISR', () => {
    let s = apply(img, records(handleAlterPartition(img, base)));
    s = apply(s, records(fenceBroker(s, follower)));
    const q = getPartition(s, 'T', 0)!;
    const req = { ...base, leaderEpoch: q.leaderEpoch, partitionEpoch: q.partitionEpoch, newIsr: [...q.isr, follower] };
    expect(errorName(handleAlterPartition(s, req))).toBe('INELIGIBLE_REPLICA');
  });

  it('commits nothing when the ISR is unchanged', () => {
    expect(records(handleAlterPartition(img, { ...base, newIsr: [...p.isr].reverse() }))).toEqual([]);
  });
});

describe('electPreferredLeaders', () => {
  it('moves leadership back to the preferred replica once it is in the ISR', () => {
    let img = topicImage();
    img = apply(img, records(fenceBroker(img, 1)));
    expect(electPreferredLeaders(img)).toEqual([]);
    img = apply(img, records(unfenceBroker(img, 1, 101)));
    // back in the ISR through AlterPartition by each leader
    for (const p of [...allPartitions(img)]) {
      if (p.isr.includes(1)) continue;
      img = apply(img, records(handleAlterPartition(img, {
        brokerId: p.leader, brokerEpoch: 100 + p.leader, topicId: p.topicId, partition: p.partition,
        leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [...p.isr, 1],
      })));
    }
    const recs = electPreferredLeaders(img);
    expect(recs.length).toBeGreaterThan(0);
    img = apply(img, recs);
    for (const p of allPartitions(img)) expect(p.leader).toBe(p.replicas[0]);
    expect(electPreferredLeaders(img)).toEqual([]);
  });
});

describe('registerBroker', () => {
  const req = { brokerId: 1, incarnationId: 'inc-1-restart', endpoints: [{ name: 'INTERNAL', host: 'b1', port: 9001 }], rack: null };

  it('registers a new broker fenced with the given epoch', () => {
    const img = apply(clusterImage(0), records(registerBroker(clusterImage(0), { ...req, brokerId: 7 }, 300)));
    expect(img.brokers.get(7)).toMatchObject({ brokerEpoch: 300, state: 'fenced', incarnationId: 'inc-1-restart' });
  });

  it('refuses a second live incarnation of the same id', () => {
    const img = topicImage();
    const before = imageToRecords(img);
    expect(errorName(registerBroker(img, req, 300))).toBe('DUPLICATE_BROKER_REGISTRATION');
    expect(imageToRecords(img)).toEqual(before);
  });

  it('accepts a restart with a new incarnation once the old one is fenced', () => {
    let img = topicImage();
    img = apply(img, records(fenceBroker(img, 1)));
    img = apply(img, records(registerBroker(img, req, 300)));
    expect(img.brokers.get(1)).toMatchObject({ incarnationId: 'inc-1-restart', brokerEpoch: 300, state: 'fenced' });
    img = apply(img, records(unfenceBroker(img, 1, 300)));
    expect(img.brokers.get(1)!.state).toBe('unfenced');
  });

  it('accepts a retry by the same incarnation, moving its leaderships first', () => {
    const img = topicImage();
    const next = apply(img, records(registerBroker(img, { ...req, incarnationId: 'inc-1' }, 300)));
    expect(next.brokers.get(1)).toMatchObject({ brokerEpoch: 300, state: 'fenced' });
    for (const p of allPartitions(next)) expect(p.leader).not.toBe(1);
  });

  it('unfenceBroker refuses a stale epoch', () => {
    expect(errorName(unfenceBroker(topicImage(), 1, 5))).toBe('STALE_BROKER_EPOCH');
  });
});

describe('fenceBrokers', () => {
  it('fences several brokers without electing one fenced in the same batch', () => {
    let img = topicImage(3, 6, 3);
    img = apply(img, records(fenceBrokers(img, [1, 2])));
    for (const p of allPartitions(img)) {
      expect(p.leader).toBe(3);
      expect(p.isr).toEqual([3]);
    }
    expect(errorName(fenceBrokers(img, [3, 9]))).toBe('BROKER_ID_NOT_REGISTERED');
  });
});

describe('handleBrokerHeartbeat', () => {
  function beat(img: MetadataImage, patch: Partial<BrokerHeartbeatRequest>, caughtUp = 0) {
    const r = handleBrokerHeartbeat(img, { brokerId: 1, brokerEpoch: 101, currentMetadataOffset: img.offset, wantFence: false, wantShutDown: false, ...patch }, caughtUp);
    if (!r.ok) throw r.error;
    return r.value;
  }

  it('unfences a fenced broker once it caught up', () => {
    let img = topicImage();
    img = apply(img, records(fenceBroker(img, 1)));
    expect(beat(img, { currentMetadataOffset: 3 }, 10)).toEqual({ records: [], isFenced: true, shouldShutDown: false });
    const out = beat(img, { currentMetadataOffset: 10 }, 10);
    expect(out.isFenced).toBe(false);
    expect(apply(img, out.records).brokers.get(1)!.state).toBe('unfenced');
  });

  it('refuses a stale epoch', () => {
    const r = handleBrokerHeartbeat(topicImage(), { brokerId: 1, brokerEpoch: 1, currentMetadataOffset: 0, wantFence: false, wantShutDown: false }, 0);
    expect(r.ok ? 'ok' : r.error.errorName).toBe('STALE_BROKER_EPOCH');
  });

  it('runs a controlled shutdown to completion', () => {
    let img = topicImage();
    const first = beat(img, { wantShutDown: true });
    expect(first.shouldShutDown).toBe(false);
    img = apply(img, first.records);
    expect(img.brokers.get(1)!.state).toBe('shuttingDown');
    // the broker has not yet seen the leadership moves
    expect(beat(img, { wantShutDown: true, currentMetadataOffset: img.offset - 1 }).shouldShutDown).toBe(false);
    const done = beat(img, { wantShutDown: true });
    expect(done).toMatchObject({ isFenced: true, shouldShutDown: true });
    img = apply(img, done.records);
    expect(img.brokers.get(1)!.state).toBe('fenced');
  });

  it('fences on request', () => {
    const img = topicImage();
    const out = beat(img, { wantFence: true });
    expect(apply(img, out.records).brokers.get(1)!.state).toBe('fenced');
  });
});
