import { MalformedBytesError } from '@rivulet/group';
import { describe, expect, it } from 'vitest';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from './consumer-protocol.js';

describe('ConsumerProtocol as partition lists', () => {
  it('round-trips a Subscription, its owned partitions grouped by topic on the wire', () => {
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
    expect({ ...decoded, userData: Buffer.from(decoded.userData!) }).toEqual({
      ...subscription,
      ownedPartitions: [
        { topic: 'orders', partition: 1 },
        { topic: 'orders', partition: 2 },
        { topic: 'payments', partition: 0 },
      ],
    });
  });

  it('round-trips an Assignment; empty bytes are no partitions', () => {
    const assignment = { partitions: [{ topic: 'a', partition: 0 }, { topic: 'a', partition: 3 }, { topic: 'b', partition: 1 }], userData: null };
    expect(decodeAssignment(encodeAssignment(assignment))).toEqual(assignment);
    expect(decodeAssignment(Buffer.alloc(0))).toEqual({ partitions: [], userData: null });
  });

  it('refuses truncated bytes with a typed error', () => {
    const bytes = encodeSubscription({ topics: ['orders'], userData: null, ownedPartitions: [], generationId: 1, rackId: null });
    expect(() => decodeSubscription(bytes.subarray(0, 7))).toThrow(MalformedBytesError);
  });
});
