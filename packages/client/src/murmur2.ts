/**
 * Kafka's murmur2, bit for bit as `org.apache.kafka.common.utils.Utils.murmur2`: the hash the
 * Java client's default partitioner (and librdkafka's `murmur2_random`, and KafkaJS's default)
 * uses, so a keyed record lands on the same partition whichever client wrote it.
 */
const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Returns the signed 32-bit murmur2 hash of `data`, as Java's `int` would hold it. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  // Java's switch falls through: 3 leftover bytes mix in all three, 2 in two, 1 in one.
  const leftover = length % 4;
  if (leftover >= 3) h ^= data[tail + 2]! << 16;
  if (leftover >= 2) h ^= data[tail + 1]! << 8;
  if (leftover >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not Math.abs, which differs for MIN_VALUE). */
export function toPositive(value: number): number {
  return value & 0x7fffffff;
}

/** The partition Kafka's default partitioner picks for a key: `toPositive(murmur2(key)) % numPartitions`. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  return toPositive(murmur2(key)) % numPartitions;
}
