/*
 * Child process of crash.test.ts: appends numbered batches to a few partitions as fast as
 * it can and prints one line per acknowledged operation, until it is killed:
 *
 *   ack <partition> <batchNumber> <baseOffset> <lastOffset>
 *   hw <partition> <offset>            a high-watermark checkpoint completed
 *   start <partition> <logStartOffset> a deleteRecordsBefore completed
 *
 * On start it resumes numbering after the last batch it finds in each partition, so runs
 * build on each other. Each partition's batches are an idempotent producer's, so a restart
 * whose producer state does not match the log refuses the next batch and the writer dies. stdout is a pipe, and pipe writes are synchronous on Linux, so a line
 * written before SIGKILL is never lost.
 *
 * Usage: node --conditions=@rivulet/source --import tsx crash-writer.ts <dataDir> <os|always> <seed>
 */
import { SeededRandom } from '@rivulet/common';
import { LogStore } from '../log-store.js';
import type { FlushPolicy } from '../log-store.js';
import type { PartitionLog } from '../partition-log.js';
import { CRASH_PARTITIONS, CRASH_TOPIC, crashBatch, parseCrashBatch } from './crash-batches.js';

const [dataDir, flushPolicy, seedText] = process.argv.slice(2);
if (dataDir === undefined || (flushPolicy !== 'os' && flushPolicy !== 'always')) {
  process.stderr.write('usage: crash-writer.ts <dataDir> <os|always> <seed>\n');
  process.exit(2);
}
const random = new SeededRandom(Number(seedText ?? 1));
const store = await LogStore.open({ dataDir, flushPolicy: flushPolicy as FlushPolicy });
const logs: PartitionLog[] = [];
const nextBatchNumber: number[] = [];
for (let p = 0; p < CRASH_PARTITIONS; p++) {
  const log = await store.openPartition({ topic: CRASH_TOPIC, partition: p }, { retentionMs: -1, retentionBytes: -1 });
  logs.push(log);
  let next = 0;
  if (log.logEndOffset() > log.logStartOffset()) {
    const last = await log.read(log.logEndOffset() - 1, 1);
    next = parseCrashBatch(last.records).batchNumber + 1;
  }
  nextBatchNumber.push(next);
}
process.stdout.write('ready\n');

// A bounded window of turns in flight keeps several group commits queued at all times.
const inFlight = new Set<Promise<unknown>>();
const IN_FLIGHT_TURNS_MAX = 4;
for (let turn = 0; ; turn++) {
  const operations: Promise<unknown>[] = [];
  for (let p = 0; p < CRASH_PARTITIONS; p++) {
    if (random.nextInt(3) === 0) continue;
    const log = logs[p]!;
    for (let i = 1 + random.nextInt(3); i > 0; i--) {
      const batchNumber = nextBatchNumber[p]!;
      nextBatchNumber[p] = batchNumber + 1;
      operations.push(
        log.appendAsLeader(crashBatch(p, batchNumber), 1).then((result) => {
          process.stdout.write(`ack ${p} ${batchNumber} ${result.baseOffset} ${result.lastOffset}\n`);
        }),
      );
    }
    if (turn % 10 === 5) {
      const hw = log.logEndOffset();
      operations.push(log.checkpointHighWatermark(hw).then(() => process.stdout.write(`hw ${p} ${hw}\n`)));
    }
    if (p === 0 && turn % 50 === 25) {
      const target = Math.floor(log.logEndOffset() / 2);
      operations.push(log.deleteRecordsBefore(target).then((start) => process.stdout.write(`start ${p} ${start}\n`)));
    }
  }
  const turnDone = Promise.all(operations);
  inFlight.add(turnDone);
  void turnDone.finally(() => inFlight.delete(turnDone));
  if (inFlight.size >= IN_FLIGHT_TURNS_MAX) await Promise.race(inFlight);
  // Yield to the event loop so the next turn is a separate group commit.
  await new Promise((resolve) => setImmediate(resolve));
}
