import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MalformedBytesError } from './binary.js';
import type { GroupMetadataValue, OffsetCommitKey, OffsetCommitValue } from './records.js';
import { decodeGroupMetadataValue, decodeOffsetCommitValue, decodeRecordKey, groupMetadataRecord, offsetCommitRecord } from './records.js';

const text = fc.string({ unit: 'binary', maxLength: 20 });
const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const nonNegativeInt32 = fc.integer({ min: 0, max: 0x7fffffff });
const safeInteger = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
const bytes = fc.uint8Array({ maxLength: 30 });

const offsetKey: fc.Arbitrary<OffsetCommitKey> = fc.record({ groupId: text, topic: text, partition: nonNegativeInt32 });
const offsetValue: fc.Arbitrary<OffsetCommitValue> = fc.record({
  committedOffset: safeInteger,
  committedLeaderEpoch: int32,
  metadata: fc.option(text, { nil: null }),
  commitTimestampMs: safeInteger,
});
const groupValue: fc.Arbitrary<GroupMetadataValue> = fc
  .record({
    protocolType: text,
    generationId: nonNegativeInt32,
    protocolName: text,
    stateTimestampMs: safeInteger,
    members: fc.uniqueArray(
      fc.record({
        memberId: text,
        groupInstanceId: fc.option(text, { nil: null }),
        clientId: text,
        clientHost: text,
        rebalanceTimeoutMs: nonNegativeInt32,
        sessionTimeoutMs: nonNegativeInt32,
        subscription: bytes,
        assignment: bytes,
      }),
      { maxLength: 4, selector: (member) => member.memberId },
    ),
  })
  .filter(({ members }) => {
    const instanceIds = members.flatMap((member) => (member.groupInstanceId === null ? [] : [member.groupInstanceId]));
    return new Set(instanceIds).size === instanceIds.length;
  })
  .map(({ members, protocolName, ...rest }) => ({
    ...rest,
    members,
    protocolName: members.length === 0 ? null : protocolName,
    leader: members.length === 0 ? null : members[members.length - 1]!.memberId,
  }));

function malformed(decode: () => unknown): MalformedBytesError {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedBytesError);
    expect((error as MalformedBytesError).errorName).toBe('INVALID_RECORD');
    return error as MalformedBytesError;
  }
  throw new Error('decoding succeeded');
}

/** Decodes or throws a MalformedBytesError; anything else (a RangeError, say) fails the test. */
function decodesOrRefuses(decode: () => unknown): void {
  try {
    decode();
  } catch (error) {
    if (!(error instanceof MalformedBytesError)) throw error;
  }
}

describe('offset-commit records', () => {
  it('round-trips key and value', () => {
    fc.assert(
      fc.property(offsetKey, offsetValue, (key, value) => {
        const record = offsetCommitRecord(key, value);
        expect(decodeRecordKey(record.key)).toEqual({ type: 'offsetCommit', ...key });
        expect(decodeOffsetCommitValue(record.value!)).toEqual(value);
      }),
    );
  });

  it('writes a tombstone as a null value under the same key', () => {
    const key = { groupId: 'g', topic: 't', partition: 3 };
    const tombstone = offsetCommitRecord(key, null);
    expect(tombstone.value).toBeNull();
    expect(tombstone.key).toEqual(offsetCommitRecord(key, { committedOffset: 1, committedLeaderEpoch: 0, metadata: null, commitTimestampMs: 0 }).key);
  });

  it('has the documented big-endian layout', () => {
    const record = offsetCommitRecord({ groupId: 'g', topic: 't', partition: 2 }, { committedOffset: 258, committedLeaderEpoch: -1, metadata: null, commitTimestampMs: 1 });
    expect([...record.key]).toEqual([0, 0, 0, 0, 0, 1, 0x67, 0, 0, 0, 1, 0x74, 0, 0, 0, 2]);
    expect([...record.value!]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('reads a newer value version by its known fields and ignores what it appended', () => {
    const value = { committedOffset: 7, committedLeaderEpoch: 3, metadata: 'm', commitTimestampMs: 99 };
    const current = offsetCommitRecord({ groupId: 'g', topic: 't', partition: 0 }, value).value!;
    const newer = new Uint8Array([...current, 1, 2, 3]);
    newer[1] = 1;
    expect(decodeOffsetCommitValue(newer)).toEqual(value);
    newer[1] = 0;
    expect(malformed(() => decodeOffsetCommitValue(newer)).message).toContain('unexpected bytes');
  });

  it('refuses a negative partition, a negative value version and an unsafe offset', () => {
    const key = offsetCommitRecord({ groupId: 'g', topic: 't', partition: 0 }, null).key;
    key.set([0xff, 0xff, 0xff, 0xff], key.length - 4);
    malformed(() => decodeRecordKey(key));
    const value = offsetCommitRecord({ groupId: 'g', topic: 't', partition: 0 }, { committedOffset: 0, committedLeaderEpoch: 0, metadata: null, commitTimestampMs: 0 }).value!;
    malformed(() => decodeOffsetCommitValue(new Uint8Array([0xff, 0xff, ...value.subarray(2)])));
    const unsafe = value.slice();
    unsafe.set([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 2);
    expect(malformed(() => decodeOffsetCommitValue(unsafe)).message).toContain('safe integer');
  });
});

describe('group-metadata records', () => {
  it('round-trips key and value', () => {
    fc.assert(
      fc.property(text, groupValue, (groupId, value) => {
        const record = groupMetadataRecord(groupId, value);
        expect(decodeRecordKey(record.key)).toEqual({ type: 'groupMetadata', groupId });
        expect(decodeGroupMetadataValue(record.value!)).toEqual(value);
      }),
    );
  });

  const member = { memberId: 'm1', groupInstanceId: 'i1', clientId: 'c', clientHost: 'h', rebalanceTimeoutMs: 1, sessionTimeoutMs: 1, subscription: new Uint8Array(), assignment: new Uint8Array() };
  const valid: GroupMetadataValue = { protocolType: 'consumer', generationId: 1, protocolName: 'range', leader: 'm1', stateTimestampMs: 0, members: [member] };

  it.each<[string, GroupMetadataValue]>([
    ['a leader who is not a member', { ...valid, leader: 'm2' }],
    ['members without a protocol', { ...valid, protocolName: null }],
    ['a member id twice', { ...valid, members: [member, { ...member, groupInstanceId: null }] }],
    ['an instance id twice', { ...valid, members: [member, { ...member, memberId: 'm2' }] }],
    ['a leader without members', { ...valid, members: [] }],
    ['a negative generation', { ...valid, generationId: -1 }],
    ['a negative session timeout', { ...valid, members: [{ ...member, sessionTimeoutMs: -5 }] }],
  ])('refuses %s', (_what, value) => {
    malformed(() => decodeGroupMetadataValue(groupMetadataRecord('g', value).value!));
  });

  it('refuses a member count the bytes cannot hold, without allocating it', () => {
    const empty = groupMetadataRecord('g', { ...valid, protocolName: null, leader: null, members: [] }).value!;
    empty.set([0x7f, 0xff, 0xff, 0xff], empty.length - 4);
    expect(malformed(() => decodeGroupMetadataValue(empty)).message).toContain('claims');
  });
});

describe('record keys', () => {
  it('reports a key version it does not know, for the loader to skip', () => {
    expect(decodeRecordKey(new Uint8Array([0, 9, 1, 2, 3]))).toEqual({ type: 'unknown', keyVersion: 9 });
  });

  it('refuses trailing bytes after a known key', () => {
    const key = groupMetadataRecord('g', null).key;
    malformed(() => decodeRecordKey(new Uint8Array([...key, 0])));
  });

  it('refuses a string that is not UTF-8', () => {
    malformed(() => decodeRecordKey(new Uint8Array([0, 1, 0, 0, 0, 2, 0xff, 0xfe])));
  });
});

describe('decoders on arbitrary bytes', () => {
  it('decode or throw MalformedBytesError, never read out of bounds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (input) => {
        decodesOrRefuses(() => decodeRecordKey(input));
        decodesOrRefuses(() => decodeOffsetCommitValue(input));
        decodesOrRefuses(() => decodeGroupMetadataValue(input));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuse every truncation of a valid record', () => {
    fc.assert(
      fc.property(text, groupValue, offsetKey, offsetValue, (groupId, value, key, offset) => {
        const group = groupMetadataRecord(groupId, value);
        const commit = offsetCommitRecord(key, offset);
        for (const [bytesOf, decode] of [
          [group.key, decodeRecordKey],
          [group.value!, decodeGroupMetadataValue],
          [commit.key, decodeRecordKey],
          [commit.value!, decodeOffsetCommitValue],
        ] as const) {
          for (let length = 0; length < bytesOf.length; length++) malformed(() => decode(bytesOf.subarray(0, length)));
        }
      }),
      { numRuns: 50 },
    );
  });

  it('refuse mutated records or decode them, never anything else', () => {
    fc.assert(
      fc.property(text, groupValue, fc.nat(), fc.integer({ min: 0, max: 255 }), (groupId, value, position, byte) => {
        const encoded = groupMetadataRecord(groupId, value).value!.slice();
        encoded[position % encoded.length] = byte;
        decodesOrRefuses(() => decodeGroupMetadataValue(encoded));
      }),
      { numRuns: 1000 },
    );
  });
});
