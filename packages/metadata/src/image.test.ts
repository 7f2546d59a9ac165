import { AssertionError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { createTopic } from './decisions.js';
import { applyRecord, EMPTY_IMAGE, getPartition, imageFromRecords, imageToRecords } from './image.js';
import type { MetadataImage } from './image.js';
import type { MetadataRecord } from './records.js';
import { apply, clusterImage } from './test-helpers.js';

function withTopic(image: MetadataImage, name = 't', partitions = 3, rf = 3, id = `id-${name}`): MetadataImage {
  const d = createTopic(image, { name, partitions, replicationFactor: rf, configs: { 'cleanup.policy': 'compact' } }, id);
  if (!d.ok) throw d.error;
  return apply(image, d.value);
}

describe('applyRecord', () => {
  it('builds brokers, topics, partitions and configs', () => {
    const img = withTopic(clusterImage(3));
    expect([...img.brokers.values()].map((b) => b.state)).toEqual(['unfenced', 'unfenced', 'unfenced']);
    const t = img.topicsByName.get('t')!;
    expect(t.topicId).toBe('id-t');
    expect(img.topicNamesById.get('id-t')).toBe('t');
    expect(t.partitions.size).toBe(3);
    expect(t.configs.get('cleanup.policy')).toBe('compact');
    const p = getPartition(img, 'id-t', 0)!;
    expect(p.isr).toEqual(p.replicas);
    expect(p.leader).toBe(p.replicas[0]);
  });

  it('is pure: the input image is unchanged', () => {
    const before = withTopic(clusterImage(3));
    const snapshot = imageToRecords(before);
    const after = applyRecord(before, { type: 'PartitionChange', topicId: 'id-t', partition: 0, isr: [getPartition(before, 'id-t', 0)!.leader] }, before.offset + 1);
    expect(imageToRecords(before)).toEqual(snapshot);
    expect(after).not.toBe(before);
    expect(after.offset).toBe(before.offset + 1);
  });

  it('bumps partition epoch on every change and leader epoch only when the leader changes', () => {
    let img = withTopic(clusterImage(3));
    const p0 = getPartition(img, 'id-t', 0)!;
    img = apply(img, [{ type: 'PartitionChange', topicId: 'id-t', partition: 0, isr: [p0.leader] }]);
    let p = getPartition(img, 'id-t', 0)!;
    expect([p.leaderEpoch, p.partitionEpoch]).toEqual([0, 1]);
    const other = p0.replicas[1]!;
    img = apply(img, [{ type: 'PartitionChange', topicId: 'id-t', partition: 0, isr: [p0.leader, other], leader: other }]);
    p = getPartition(img, 'id-t', 0)!;
    expect([p.leader, p.leaderEpoch, p.partitionEpoch]).toEqual([other, 1, 2]);
  });

  it('config null deletes, RemoveTopic removes the topic and its id', () => {
    let img = withTopic(clusterImage(3));
    img = apply(img, [{ type: 'TopicConfig', topic: 't', key: 'cleanup.policy', value: null }]);
    expect(img.topicsByName.get('t')!.configs.size).toBe(0);
    img = apply(img, [{ type: 'RemoveTopic', topicId: 'id-t' }]);
    expect(img.topicsByName.size).toBe(0);
    expect(img.topicNamesById.size).toBe(0);
  });

  it('re-registration replaces the broker and starts it fenced', () => {
    let img = clusterImage(2);
    img = apply(img, [{ type: 'RegisterBroker', brokerId: 1, incarnationId: 'new', brokerEpoch: 500, endpoints: [], rack: null }]);
    expect(img.brokers.get(1)).toMatchObject({ incarnationId: 'new', brokerEpoch: 500, state: 'fenced' });
  });

  describe('asserts on impossible records', () => {
    const base = withTopic(clusterImage(3));
    const p0 = getPartition(base, 'id-t', 0)!;
    const notReplica = 99;
    const cases: [string, MetadataRecord][] = [
      ['PartitionChange for an unknown partition', { type: 'PartitionChange', topicId: 'id-t', partition: 42, isr: [1] }],
      ['PartitionChange for an unknown topic', { type: 'PartitionChange', topicId: 'nope', partition: 0, isr: [1] }],
      ['leader not in replicas', { type: 'PartitionChange', topicId: 'id-t', partition: 0, leader: notReplica }],
      ['leader not in ISR', { type: 'PartitionChange', topicId: 'id-t', partition: 0, isr: [p0.replicas[1]!], leader: p0.replicas[2]! }],
      ['ISR not within replicas', { type: 'PartitionChange', topicId: 'id-t', partition: 0, isr: [p0.leader, notReplica] }],
      ['empty ISR', { type: 'PartitionChange', topicId: 'id-t', partition: 0, isr: [], leader: -1 }],
      ['duplicate replicas', { type: 'Partition', topicId: 'id-t', partition: 5, replicas: [1, 1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }],
      ['existing partition', { ...{ type: 'Partition' as const }, topicId: 'id-t', partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 }],
      ['duplicate topic name', { type: 'Topic', name: 't', topicId: 'other' }],
      ['duplicate topic id', { type: 'Topic', name: 'u', topicId: 'id-t' }],
      ['config for an unknown topic', { type: 'TopicConfig', topic: 'nope', key: 'k', value: 'v' }],
      ['RemoveTopic for an unknown id', { type: 'RemoveTopic', topicId: 'nope' }],
      ['fencing an unknown broker', { type: 'FenceBroker', brokerId: 9, brokerEpoch: 1 }],
      ['fencing with a stale broker epoch', { type: 'FenceBroker', brokerId: 1, brokerEpoch: 1 }],
      ['re-registering with an older epoch', { type: 'RegisterBroker', brokerId: 1, incarnationId: 'x', brokerEpoch: 1, endpoints: [], rack: null }],
      ['unregistering a leader', { type: 'UnregisterBroker', brokerId: p0.leader, brokerEpoch: 100 + p0.leader }],
    ];
    it.each(cases)('%s', (_what, record) => {
      expect(() => applyRecord(base, record, base.offset + 1)).toThrow(AssertionError);
    });

    it('an offset below the image offset', () => {
      expect(() => applyRecord(base, { type: 'Topic', name: 'u', topicId: 'u' }, base.offset - 1)).toThrow(AssertionError);
    });
  });
});

describe('snapshot', () => {
  it('imageToRecords then imageFromRecords gives an equal image', () => {
    let img = withTopic(withTopic(clusterImage(4, ['a', 'b']), 'x', 5, 2), 'y', 2, 3);
    img = apply(img, [
      { type: 'FenceBroker', brokerId: 4, brokerEpoch: 104 },
      { type: 'BrokerShuttingDown', brokerId: 3, brokerEpoch: 103 },
      { type: 'TopicConfig', topic: 'x', key: 'retention.ms', value: '5' },
    ]);
    const p = getPartition(img, 'id-x', 1)!;
    img = apply(img, [{ type: 'PartitionChange', topicId: 'id-x', partition: 1, isr: [p.leader] }]);
    const rebuilt = imageFromRecords(imageToRecords(img), img.offset);
    expect(rebuilt).toEqual(img);
    expect(imageToRecords(rebuilt)).toEqual(imageToRecords(img));
  });

  it('the empty image round-trips', () => {
    expect(imageFromRecords(imageToRecords(EMPTY_IMAGE), -1)).toEqual(EMPTY_IMAGE);
  });
});
