import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/*
 * CRC-32C (Castagnoli), the checksum of RecordBatch v2 over bytes [21, end). The native
 * @node-rs/crc32 binding (SSE4.2 / ARMv8 CRC instructions) beat the pure-JS table version by
 * a wide margin in scripts/bench/crc32c.ts (figures in this package's README), so the codec
 * uses it. `crc32cTableJs` stays as the independent reference that tests compare against.
 */
export function crc32c(bytes: Uint8Array): number {
  // The binding returns the checksum as an unsigned 32-bit number, matching readUInt32BE.
  return nativeCrc32c(bytes) >>> 0;
}
