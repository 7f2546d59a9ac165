import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MalformedBytesError } from './binary.js';
import { decodeConsumerAssignment, decodeConsumerSubscription, encodeConsumerAssignment, encodeConsumerSubscription } from './consumer-protocol.js';

const topicName = fc.string({ unit: 'binary-ascii', maxLength: 12 });
const topicPartitions = fc.array(fc.record({ topic: topicName, partitions: fc.array(fc.integer({ min: -0x80000000, max: 0x7fffffff }), { maxLength: 5 }) }), { maxLength: 4 });
const userData = fc.option(fc.uint8Array({ maxLength: 16 }), { nil: null });
const subscription = fc.record({
  topics: fc.array(topicName, { maxLength: 5 }),
  userData,
  ownedPartitions: topicPartitions,
  generationId: fc.integer({ min: -1, max: 1000 }),
  rackId: fc.option(topicName, { nil: null }),
});
const version = fc.integer({ min: 0, max: 3 });

function expectMalformed(decode: () => unknown): void {
  expect(decode).toThrow(MalformedBytesError);
}

describe('ConsumerProtocol Subscription', () => {
  it('round-trips each version, with defaults for the fields a version lacks', () => {
    fc.assert(
      fc.property(subscription, version, (written, writtenVersion) => {
        const read = decodeConsumerSubscription(encodeConsumerSubscription(written, writtenVersion));
        expect(read).toEqual({
          version: writtenVersion,
          topics: written.topics,
          userData: written.userData,
          ownedPartitions: writtenVersion >= 1 ? written.ownedPartitions : [],
          generationId: writtenVersion >= 2 ? written.generationId : -1,
          rackId: writtenVersion >= 3 ? written.rackId : null,
        });
      }),
    );
  });

  it("reads Kafka's bytes: v0 with one topic and no user data", () => {
    const kafkaBytes = new Uint8Array([0, 0, 0, 0, 0, 1, 0, 3, 0x66, 0x6f, 0x6f, 0xff, 0xff, 0xff, 0xff]);
    expect(decodeConsumerSubscription(kafkaBytes)).toEqual({ version: 0, topics: ['foo'], userData: null, ownedPartitions: [], generationId: -1, rackId: null });
    expect(encodeConsumerSubscription({ topics: ['foo'], userData: null, ownedPartitions: [], generationId: -1, rackId: null }, 0)).toEqual(kafkaBytes);
  });

  it("reads Kafka's bytes: v3 with owned partitions, a generation and a rack", () => {
    const kafkaBytes = new Uint8Array([
      0, 3, // version
      0, 0, 0, 1, 0, 1, 0x74, // topics ["t"]
      0, 0, 0, 2, 9, 8, // userData [9, 8]
      0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5, // ownedPartitions t: [0, 5]
      0, 0, 0, 7, // generationId 7
      0, 2, 0x72, 0x31, // rackId "r1"
    ]);
    expect(decodeConsumerSubscription(kafkaBytes)).toEqual({
      version: 3,
      topics: ['t'],
      userData: new Uint8Array([9, 8]),
      ownedPartitions: [{ topic: 't', partitions: [0, 5] }],
      generationId: 7,
      rackId: 'r1',
    });
  });

  it('reads a newer version as the latest it knows and ignores the fields it appended', () => {
    const latest = encodeConsumerSubscription({ topics: ['a'], userData: null, ownedPartitions: [], generationId: 3, rackId: 'r' });
    const newer = new Uint8Array([...latest, 0xde, 0xad]);
    newer[1] = 4;
    expect(decodeConsumerSubscription(newer)).toMatchObject({ version: 4, topics: ['a'], generationId: 3, rackId: 'r' });
  });

  it('refuses a negative version and a null topic', () => {
    expectMalformed(() => decodeConsumerSubscription(new Uint8Array([0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])));
    expectMalformed(() => decodeConsumerSubscription(new Uint8Array([0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])));
  });

  it('refuses every truncation', () => {
    fc.assert(
      fc.property(subscription, version, (written, writtenVersion) => {
        const encoded = encodeConsumerSubscription(written, writtenVersion);
        for (let length = 0; length < encoded.length; length++) expectMalformed(() => decodeConsumerSubscription(encoded.subarray(0, length)));
      }),
      { numRuns: 50 },
    );
  });
});

describe('ConsumerProtocol Assignment', () => {
  it('round-trips each version', () => {
    fc.assert(
      fc.property(topicPartitions, userData, version, (assignedPartitions, data, writtenVersion) => {
        const encoded = encodeConsumerAssignment({ assignedPartitions, userData: data }, writtenVersion);
        expect(decodeConsumerAssignment(encoded)).toEqual({ version: writtenVersion, assignedPartitions, userData: data });
      }),
    );
  });

  it("reads Kafka's bytes: v0 assigning t-1 and t-2, without user data", () => {
    const kafkaBytes = new Uint8Array([0, 0, 0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff]);
    expect(decodeConsumerAssignment(kafkaBytes)).toEqual({ version: 0, assignedPartitions: [{ topic: 't', partitions: [1, 2] }], userData: null });
  });

  it('tolerates trailing bytes of a newer version', () => {
    const encoded = encodeConsumerAssignment({ assignedPartitions: [{ topic: 't', partitions: [0] }], userData: null });
    const newer = new Uint8Array([...encoded, 1, 2, 3, 4]);
    newer[1] = 9;
    expect(decodeConsumerAssignment(newer).assignedPartitions).toEqual([{ topic: 't', partitions: [0] }]);
  });

  it('refuses a partition count the bytes cannot hold', () => {
    expectMalformed(() => decodeConsumerAssignment(new Uint8Array([0, 0, 0, 0, 0, 1, 0, 1, 0x74, 0x7f, 0xff, 0xff, 0xff])));
  });

  it('refuses the empty assignment Kafka hands a member the leader left out', () => {
    expectMalformed(() => decodeConsumerAssignment(new Uint8Array()));
  });
});

describe('consumer protocol decoders on arbitrary bytes', () => {
  it('decode or throw MalformedBytesError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (input) => {
        for (const decode of [decodeConsumerSubscription, decodeConsumerAssignment]) {
          try {
            decode(input);
          } catch (error) {
            if (!(error instanceof MalformedBytesError)) throw error;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
