/**
 * Which partition of __consumer_offsets holds a group: Kafka's choice, so a Kafka client's
 * FindCoordinator and ours agree on the coordinator of every group.
 */

/** Java's String.hashCode: over UTF-16 code units, h = 31 * h + unit, in 32-bit two's complement. */
export function javaStringHashCode(value: string): number {
  let hash = 0;
  for (let index = 0; index < value.length; index++) hash = (Math.imul(31, hash) + value.charCodeAt(index)) | 0;
  return hash;
}

/** Kafka's `Utils.abs(groupId.hashCode()) % partitionCount`; Utils.abs maps Integer.MIN_VALUE to 0. */
export function groupPartition(groupId: string, partitionCount: number): number {
  const hash = javaStringHashCode(groupId);
  const absoluteHash = hash === -0x80000000 ? 0 : Math.abs(hash);
  return absoluteHash % partitionCount;
}
