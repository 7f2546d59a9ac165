/*
 * A pure-JS CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) using slicing-by-8 tables:
 * eight 256-entry tables let the loop consume eight bytes per iteration. It exists as an
 * independent reference for tests and as the baseline of scripts/bench/crc32c.ts; the codec
 * uses the native binding (see crc32c.ts).
 */
const POLYNOMIAL_REFLECTED = 0x82f63b78;
const TABLE_COUNT = 8;

function buildTables(): Uint32Array {
  const tables = new Uint32Array(256 * TABLE_COUNT);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL_REFLECTED : crc >>> 1;
    tables[byte] = crc >>> 0;
  }
  for (let byte = 0; byte < 256; byte++) {
    for (let slice = 1; slice < TABLE_COUNT; slice++) {
      const previous = tables[(slice - 1) * 256 + byte]!;
      tables[slice * 256 + byte] = (previous >>> 8) ^ tables[previous & 0xff]!;
    }
  }
  return tables;
}

const TABLES = buildTables();

/** Byte-at-a-time CRC-32C with one table: the simplest correct form. */
export function crc32cBytewiseJs(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = (crc >>> 8) ^ TABLES[(crc ^ bytes[i]!) & 0xff]!;
  return (crc ^ 0xffffffff) >>> 0;
}

/** Slicing-by-8 CRC-32C: the fastest plain-JS form we know. */
export function crc32cTableJs(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  let i = 0;
  const wholeEnd = bytes.length - (bytes.length % 8);
  for (; i < wholeEnd; i += 8) {
    const low = (crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    crc =
      TABLES[7 * 256 + (low & 0xff)]! ^
      TABLES[6 * 256 + ((low >>> 8) & 0xff)]! ^
      TABLES[5 * 256 + ((low >>> 16) & 0xff)]! ^
      TABLES[4 * 256 + (low >>> 24)]! ^
      TABLES[3 * 256 + bytes[i + 4]!]! ^
      TABLES[2 * 256 + bytes[i + 5]!]! ^
      TABLES[1 * 256 + bytes[i + 6]!]! ^
      TABLES[bytes[i + 7]!]!;
  }
  for (; i < bytes.length; i++) crc = (crc >>> 8) ^ TABLES[(crc ^ bytes[i]!) & 0xff]!;
  return (crc ^ 0xffffffff) >>> 0;
}
