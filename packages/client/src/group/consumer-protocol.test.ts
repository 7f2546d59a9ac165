import { describe, expect, it } from 'vitest';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from './consumer-protocol.js';

describe('ConsumerProtocol', () => {
  it('round-trips a v3 Subscription, grouping owned partitions by topic', () => {
    const subscription = {
      topics: ['orders', 'payments'],
      userData: Buffer.from([1, 2, 3]),
      ownedPartitions: [
        { topic: 'payments', partition: 0 },
        { topic: 'orders', partition: 2 },
        { topic: 'orders', partition: 1 },
      ],
      generationId: 7,
      rackId: 'rack-a',
    };
    const decoded = decodeSubscription(encodeSubscription(subscription));
    expect(decoded).toEqual({
      ...subscription,
      userData: Buffer.from([1, 2, 3]),
      ownedPartitions: [
        { topic: 'orders', partition: 1 },
        { topic: 'orders', partition: 2 },
        { topic: 'payments', partition: 0 },
      ],
    });
  });

  it('encodes Kafka’s layout: int16 version, int32 counts, int16 string lengths, -1 for null', () => {
    const bytes = encodeSubscription({ topics: ['t'], userData: null, ownedPartitions: [{ topic: 't', partition: 5 }], generationId: -1, rackId: null });
    expect(bytes.toString('hex')).toBe(
      ['0003', '00000001', '0001', '74', 'ffffffff', '00000001', '0001', '74', '00000001', '00000005', 'ffffffff', 'ffff'].join(''),
    );
  });

  it('reads a v0 Subscription (topics and user data only) and ignores fields of versions it does not know', () => {
    const v0 = Buffer.from(['0000', '00000001', '0001', '74', '00000002', 'abcd'].join(''), 'hex');
    expect(decodeSubscription(v0)).toEqual({ topics: ['t'], userData: Buffer.from([0xab, 0xcd]), ownedPartitions: [], generationId: -1, rackId: null });
    const v9 = Buffer.concat([Buffer.from('0009', 'hex'), encodeSubscription({ topics: ['t'], userData: null, ownedPartitions: [], generationId: 3, rackId: null }).subarray(2), Buffer.from('ffff', 'hex')]);
    expect(decodeSubscription(v9).generationId).toBe(3);
  });

  it('round-trips an Assignment; empty bytes are no partitions', () => {
    const assignment = { partitions: [{ topic: 'a', partition: 0 }, { topic: 'a', partition: 3 }], userData: null };
    expect(decodeAssignment(encodeAssignment(assignment))).toEqual(assignment);
    expect(decodeAssignment(Buffer.alloc(0))).toEqual({ partitions: [], userData: null });
  });

  it('refuses truncated bytes with a typed error', () => {
    const bytes = encodeSubscription({ topics: ['orders'], userData: null, ownedPartitions: [], generationId: 1, rackId: null });
    expect(() => decodeSubscription(bytes.subarray(0, 7))).toThrow(expect.objectContaining({ errorName: 'INCONSISTENT_GROUP_PROTOCOL' }));
  });
});
