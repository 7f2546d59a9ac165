import { describe, expect, it } from 'vitest';
import { groupPartition, javaStringHashCode } from './group-partition.js';

describe("Kafka's group partitioning", () => {
  it.each([
    ['', 0],
    ['hello', 99162322],
    ['Hello World', -862545276],
    ['polygenelubricants', -0x80000000],
    // Outside the BMP: two UTF-16 code units, as Java counts them.
    ['\u{1F600}', 31 * 0xd83d + 0xde00],
  ])('hashes %j as Java String.hashCode does', (value, hash) => {
    expect(javaStringHashCode(value)).toBe(hash);
  });

  it('takes the absolute value, with Integer.MIN_VALUE mapped to 0', () => {
    expect(groupPartition('hello', 50)).toBe(99162322 % 50);
    expect(groupPartition('Hello World', 50)).toBe(862545276 % 50);
    expect(groupPartition('polygenelubricants', 7)).toBe(0);
  });
});
