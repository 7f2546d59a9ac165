/*
 * Child process of compaction-crash.test.ts: appends keyed batches to one partition and runs
 * cleaning passes over it (in chunks of a few batches, so kills land inside passes), printing
 * one line per acknowledged append, until it is killed:
 *
 *   ack <batchNumber> <baseOffset>
 *
 * On start it resumes numbering after the last batch in the log (never cleaned, so whole).
 *
 * Usage: node --conditions=@rivulet/source --import tsx compaction-crash-writer.ts <dataDir> <seed>
 */
import { SeededRandom } from '@rivulet/common';
import { decodeRecordBatch } from '@rivulet/records';
import { LogStore } from '../log-store.js';
import { COMPACTION_CRASH_TOPIC, compactionCrashBatch, parseCompactionCrashValue } from './compaction-crash-batches.js';

const [dataDir, seedText] = process.argv.slice(2);
if (dataDir === undefined) {
  process.stderr.write('usage: compaction-crash-writer.ts <dataDir> <seed>\n');
  process.exit(2);
}
const random = new SeededRandom(Number(seedText ?? 1));
const store = await LogStore.open({ dataDir, flushPolicy: 'os' });
const log = await store.openPartition({ topic: COMPACTION_CRASH_TOPIC, partition: 0 }, { retentionMs: -1, retentionBytes: -1 });
let nextBatchNumber = 0;
if (log.logEndOffset() > log.logStartOffset()) {
  const last = await log.read(log.logEndOffset() - 1, 1);
  const decoded = await decodeRecordBatch(last.records);
  nextBatchNumber = parseCompactionCrashValue(decoded.records[0]!.value!.toString()).batchNumber + 1;
}
process.stdout.write('ready\n');

let cleaning: Promise<unknown> = Promise.resolve();
for (let turn = 0; ; turn++) {
  const appends: Promise<unknown>[] = [];
  for (let i = 1 + random.nextInt(4); i > 0; i--) {
    const batchNumber = nextBatchNumber++;
    appends.push(log.appendAsLeader(compactionCrashBatch(batchNumber), 1).then((result) => process.stdout.write(`ack ${batchNumber} ${result.baseOffset}\n`)));
  }
  await Promise.all(appends);
  // A pass now and then, concurrent with the appends that follow it.
  if (turn % 4 === 0) {
    await cleaning;
    cleaning = log.compact({ cleanableEndOffset: log.logEndOffset(), nowMs: 1_700_000_000_000, deleteRetentionMs: 86_400_000, minCompactionLagMs: 0, chunkBatchesMax: 1 + random.nextInt(4) });
  }
  await new Promise((resolve) => setImmediate(resolve));
}
