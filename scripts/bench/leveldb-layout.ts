/**
 * What LevelDB's compaction costs under three key layouts for the same append stream: 100 KiB
 * batches appended round robin to 3 partitions (as a broker replicating 3 partitions does),
 * each append one write batch with the batch bytes and two small metadata keys (a time-index
 * entry and the partition's state), on classic-level with the log store's options.
 *
 *   partition-major  data keys 'D' partition offset, as the log store laid them out until
 *                    format version 2: every partition appends in the middle of the key space
 *   sequence-major   data keys under a prefix sorted after every other key, ordered by one
 *                    store-wide sequence; a small 'I' partition offset -> sequence entry per
 *                    batch finds them by offset
 *   two-databases    the log store's layout since format version 2: the batch bytes alone in a
 *                    database of their own, keyed by the sequence; the 'I' entry and the small
 *                    keys in a second (index) database, written after the first
 *
 * For each: the write rate, the CPU seconds per GB appended of the process's threads (the
 * event loop, LevelDB's compaction thread, the libuv threads doing the writes), and the MB
 * LevelDB's compactions wrote per level (its `leveldb.stats`), after the compactions the
 * appends caused have finished.
 *
 *   npx tsx scripts/bench/leveldb-layout.ts [gigabytes=1]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { LOG_INDEX_LEVELDB_OPTIONS, LOG_STORE_LEVELDB_OPTIONS } from '../../packages/storage/src/index.js';
import { threadCpuSeconds } from './process-cpu.js';

const gigabytes = Number(process.argv[2] ?? 1);
const PARTITIONS = 3;
const BATCH_BYTES = 100 * 1024;
const RECORDS_PER_BATCH = 100;
const WRITES_IN_FLIGHT = 16;
/** How long compactions may take to finish after the last append. */
const SETTLE_MS = 15_000;

type Layout = 'partition-major' | 'sequence-major' | 'two-databases';

/** `prefix` partition(u32), then `offset` (u64) unless it is undefined. */
function key(prefix: number, partition: number, offset?: number): Buffer {
  const buf = Buffer.alloc(offset === undefined ? 5 : 13);
  buf[0] = prefix;
  buf.writeUInt32BE(partition, 1);
  if (offset !== undefined) buf.writeBigUInt64BE(BigInt(offset), 5);
  return buf;
}

/** MB written by compactions, by level, from LevelDB's stats table. */
function compactionWritesMb(stats: string): number[] {
  return stats
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((cols) => cols.length === 6 && cols.every(Number.isFinite))
    .map((cols) => cols[5]!);
}

async function measure(layout: Layout) {
  const dir = await mkdtemp(join(tmpdir(), 'rivulet-leveldb-layout-'));
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'batches'), LOG_STORE_LEVELDB_OPTIONS);
  const indexDb = new ClassicLevel<Buffer, Buffer>(join(dir, 'index'), LOG_INDEX_LEVELDB_OPTIONS);
  await Promise.all([db.open(), indexDb.open()]);
  try {
    const batch = randomBytes(BATCH_BYTES);
    const small = Buffer.alloc(16);
    const appends = Math.ceil((gigabytes * 1e9) / BATCH_BYTES);
    const logEnds = new Array<number>(PARTITIONS).fill(0);
    const before = threadCpuSeconds(process.pid);
    const startMs = performance.now();
    const inFlight = new Set<Promise<void>>();
    for (let sequence = 0; sequence < appends; sequence++) {
      const partition = sequence % PARTITIONS;
      const lastOffset = (logEnds[partition]! += RECORDS_PER_BATCH) - 1;
      const write = layout === 'two-databases' ? indexDb.batch() : db.batch();
      let batchWrite = Promise.resolve();
      if (layout === 'partition-major') {
        write.put(key(0x44, partition, lastOffset), batch);
      } else {
        const dataKey = Buffer.alloc(9);
        dataKey[0] = 0x7f;
        dataKey.writeBigUInt64BE(BigInt(sequence), 1);
        if (layout === 'two-databases') batchWrite = db.put(dataKey.subarray(1), batch);
        else write.put(dataKey, batch);
        write.put(key(0x49, partition, lastOffset), dataKey.subarray(1));
      }
      write.put(key(0x54, partition, Date.now() * 1000 + sequence), small);
      write.put(key(0x53, partition), small);
      const done: Promise<void> = batchWrite
        .then(() => write.write())
        .then(() => {
          inFlight.delete(done);
        });
      inFlight.add(done);
      if (inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const writeSeconds = (performance.now() - startMs) / 1000;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const after = threadCpuSeconds(process.pid);
    const used = [...after].map(([tid, s]) => [tid, s - (before.get(tid) ?? 0)] as const).filter(([, s]) => s > 0.01);
    const main = used.find(([tid]) => tid === process.pid)?.[1] ?? 0;
    // LevelDB has one background thread; it is the busiest one that is not the event loop.
    const others = used.filter(([tid]) => tid !== process.pid).map(([, s]) => s).sort((a, b) => b - a);
    const compaction = others[0] ?? 0;
    const rest = others.slice(1).reduce((sum, s) => sum + s, 0);
    return {
      layout,
      mbPerSecond: (appends * BATCH_BYTES) / 1e6 / writeSeconds,
      mainPerGb: main / gigabytes,
      compactionPerGb: compaction / gigabytes,
      restPerGb: rest / gigabytes,
      levelWritesMb: compactionWritesMb(await db.getProperty('leveldb.stats')),
      indexLevelWritesMb: layout === 'two-databases' ? compactionWritesMb(await indexDb.getProperty('leveldb.stats')) : [],
    };
  } finally {
    await Promise.all([db.close(), indexDb.close()]);
    await rm(dir, { recursive: true, force: true });
  }
}

const rows = [];
for (const layout of ['partition-major', 'sequence-major', 'two-databases'] as const) rows.push(await measure(layout));
console.log(`\n${gigabytes} GB in ${BATCH_BYTES / 1024} KiB batches over ${PARTITIONS} partitions, ${WRITES_IN_FLIGHT} writes in flight\n`);
console.log('| layout | append MB/s | CPU s per GB: event loop | compaction thread | other threads | MB written into level 0 (memtable flushes), 1, 2, … |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  const index = r.indexLevelWritesMb.length > 0 ? ` (index database: ${r.indexLevelWritesMb.join(', ')})` : '';
  console.log(`| ${r.layout} | ${r.mbPerSecond.toFixed(0)} | ${r.mainPerGb.toFixed(2)} | ${r.compactionPerGb.toFixed(2)} | ${r.restPerGb.toFixed(2)} | ${r.levelWritesMb.join(', ')}${index} |`);
}
