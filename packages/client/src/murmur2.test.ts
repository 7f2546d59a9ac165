import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey, toPositive } from './murmur2.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('murmur2', () => {
  // The vectors of Apache Kafka's own UtilsTest.testMurmur2 (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %j exactly as the Java client does', (input, expected) => {
    expect(murmur2(bytes(input))).toBe(expected);
  });

  it('covers every tail length (0 to 3 leftover bytes)', () => {
    // 21 (2 tail bytes), abc (3), foobar (2), and the 24-byte string (0) are above; add 1 and 0 bytes.
    expect(murmur2(bytes(''))).toBe(275646681);
    expect(Number.isInteger(murmur2(bytes('a')))).toBe(true);
  });

  it('maps like Kafka 3.x BuiltInPartitioner.partitionForKey', () => {
    // Values asserted against BuiltInPartitioner.partitionForKey in a public Spock test
    // (PartitionerSpec: "a", "b", "c", "d", "e" over 10 partitions).
    expect(['a', 'b', 'c', 'd', 'e'].map((k) => partitionForKey(bytes(k), 10))).toEqual([4, 6, 4, 3, 4]);
  });

  it('toPositive masks the sign bit like Kafka, unlike Math.abs', () => {
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(-1)).toBe(2147483647);
    expect(toPositive(-973932308)).toBe(-973932308 & 0x7fffffff);
    expect(partitionForKey(bytes('21'), 7)).toBe((-973932308 & 0x7fffffff) % 7);
  });
});
