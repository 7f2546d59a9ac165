// Measures CRC-32C throughput: the native @node-rs/crc32 binding against pure-JS table
// versions (byte-at-a-time and slicing-by-8), on 1 KiB, 16 KiB and 1 MiB buffers.
// Run: npx tsx scripts/bench/crc32c.ts
import { randomBytes } from 'node:crypto';
import { crc32c } from '../../packages/records/src/crc32c.js';
import { crc32cBytewiseJs, crc32cTableJs } from '../../packages/records/src/crc32c-table.js';

const implementations: Record<string, (bytes: Uint8Array) => number> = {
  'native (@node-rs/crc32)': crc32c,
  'js slicing-by-8': crc32cTableJs,
  'js byte-wise table': crc32cBytewiseJs,
};
const sizesBytes = [1024, 16 * 1024, 1024 * 1024];
// Each measurement hashes about this many bytes, so small buffers loop more often.
const bytesPerRun = 256 * 1024 * 1024;
const runsPerCase = 5;

function measureMegabytesPerSecond(hash: (bytes: Uint8Array) => number, buf: Buffer): number {
  const iterations = Math.max(1, Math.floor(bytesPerRun / buf.length));
  let sink = 0;
  for (let i = 0; i < Math.min(iterations, 1000); i++) sink ^= hash(buf); // warm up the JIT
  let best = 0;
  for (let run = 0; run < runsPerCase; run++) {
    const startNs = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink ^= hash(buf);
    const elapsedS = Number(process.hrtime.bigint() - startNs) / 1e9;
    best = Math.max(best, (iterations * buf.length) / 1e6 / elapsedS);
  }
  if (sink === 0.5) console.log('unreachable');
  return best;
}

const rows: Record<string, Record<string, string>> = {};
for (const [name, hash] of Object.entries(implementations)) {
  rows[name] = {};
  for (const sizeBytes of sizesBytes) {
    const buf = randomBytes(sizeBytes);
    if (hash(buf) !== crc32cBytewiseJs(buf)) throw new Error(`${name} disagrees with the reference`);
    const label = sizeBytes >= 1024 * 1024 ? `${sizeBytes / 1024 / 1024} MiB` : `${sizeBytes / 1024} KiB`;
    rows[name]![label] = `${measureMegabytesPerSecond(hash, buf).toFixed(0)} MB/s`;
  }
}
console.log(`CRC-32C throughput (best of ${runsPerCase}), node ${process.version}`);
console.table(rows);
