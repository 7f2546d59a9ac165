import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { LogStore } from './log-store.js';
import type { FlushPolicy } from './log-store.js';
import { CRASH_PARTITIONS, CRASH_TOPIC, crashProducerId, crashRecordCount, crashSequence, parseCrashBatch } from './testing/crash-batches.js';
import { expectBatchDatabaseMatchesIndex } from './testing/store-consistency.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const writerScript = fileURLToPath(new URL('./testing/crash-writer.ts', import.meta.url));
// Each run costs ~2.5 s (mostly tsx start-up); three kills per policy keep the suite quick.
const ITERATIONS_PER_POLICY = 3;

interface Acknowledged {
  /** Per partition: batch number -> [baseOffset, lastOffset]. */
  readonly batches: Map<number, [number, number]>[];
  readonly highWatermarks: number[];
  readonly logStarts: number[];
}

/** Runs the writer until at least `minAcks` acknowledgements, then kills it with SIGKILL after `extraDelayMs`. */
async function runAndKill(dataDir: string, flushPolicy: FlushPolicy, seed: number, extraDelayMs: number, acknowledged: Acknowledged): Promise<number> {
  const child = spawn(process.execPath, ['--conditions=@rivulet/source', '--import', 'tsx', writerScript, dataDir, flushPolicy, String(seed)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let pending = '';
  let acks = 0;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let killTimer: NodeJS.Timeout | undefined;
  const kill = (): void => {
    if (killTimer === undefined) killTimer = setTimeout(() => child.kill('SIGKILL'), extraDelayMs);
  };
  // A bound on the whole run, so a writer that hangs or fails to start cannot stall the suite.
  const watchdog = setTimeout(() => child.kill('SIGKILL'), 30_000);
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const [kind, p, a, b, c] = line.split(' ');
      const partition = Number(p);
      if (kind === 'ack') {
        acknowledged.batches[partition]!.set(Number(a), [Number(b), Number(c)]);
        if (++acks >= 20) kill();
      } else if (kind === 'hw') {
        acknowledged.highWatermarks[partition] = Math.max(acknowledged.highWatermarks[partition]!, Number(a));
      } else if (kind === 'start') {
        acknowledged.logStarts[partition] = Math.max(acknowledged.logStarts[partition]!, Number(a));
      }
    }
  });
  const code = await exited;
  clearTimeout(watchdog);
  if (killTimer !== undefined) clearTimeout(killTimer);
  // A partial last line is an acknowledgement the writer never finished reporting: ignore it.
  expect(code, `writer exited by itself: ${stderr}`).toBeNull();
  expect(acks, `writer made no progress: ${stderr}`).toBeGreaterThan(0);
  return acks;
}

/** Reopens the store and checks every partition is a gapless, untorn prefix holding every acknowledged batch. */
async function verify(dataDir: string, acknowledged: Acknowledged): Promise<void> {
  const store = await LogStore.open({ dataDir, flushPolicy: 'os' });
  try {
    for (let p = 0; p < CRASH_PARTITIONS; p++) {
      const log = await store.openPartition({ topic: CRASH_TOPIC, partition: p }, { retentionMs: -1, retentionBytes: -1 });
      const logStart = log.logStartOffset();
      const logEnd = log.logEndOffset();
      expect(logStart).toBeGreaterThanOrEqual(acknowledged.logStarts[p]!);
      expect(log.highWatermarkCheckpoint()).toBeGreaterThanOrEqual(acknowledged.highWatermarks[p]!);
      const found = new Map<number, [number, number]>();
      let offset = logStart;
      let previous: { batchNumber: number; baseOffset: number; lastOffset: number } | undefined;
      let sizeBytes = 0;
      while (offset < logEnd) {
        const result = await log.read(offset, 1 << 20);
        expect(result.batchCount).toBeGreaterThan(0);
        let at = 0;
        while (at < result.records.length) {
          const batch = parseCrashBatch(result.records.subarray(at));
          expect(batch.partition).toBe(p);
          if (previous === undefined) {
            expect(batch.baseOffset).toBeLessThanOrEqual(logStart);
            expect(batch.lastOffset).toBeGreaterThanOrEqual(logStart);
          } else {
            expect(batch.baseOffset).toBe(previous.lastOffset + 1);
            expect(batch.batchNumber).toBeGreaterThan(previous.batchNumber);
          }
          found.set(batch.batchNumber, [batch.baseOffset, batch.lastOffset]);
          previous = batch;
          sizeBytes += batch.sizeBytes;
          at += batch.sizeBytes;
        }
        expect(result.nextOffset).toBe(previous!.lastOffset + 1);
        offset = result.nextOffset;
      }
      expect(offset).toBe(logEnd);
      expect(log.sizeBytes()).toBe(sizeBytes);
      // The producer state read back is that of the log's last batch, whatever the crash cut off.
      const entry = log.producerEntries().find((e) => e.producerId === crashProducerId(p));
      if (previous !== undefined) {
        expect(entry?.lastSequence).toBe(crashSequence(previous.batchNumber) + crashRecordCount(previous.batchNumber) - 1);
        expect(entry?.batches.at(-1)).toMatchObject({ baseOffset: previous.baseOffset, lastOffset: previous.lastOffset });
      }
      for (const [batchNumber, [baseOffset, lastOffset]] of acknowledged.batches[p]!) {
        expect(lastOffset, `acknowledged batch ${batchNumber} of partition ${p} is beyond the log end`).toBeLessThan(logEnd);
        if (lastOffset < logStart) continue;
        // Batch numbers restart after the last surviving batch, so only the newest acknowledgement per number counts.
        expect(found.get(batchNumber), `acknowledged batch ${batchNumber} of partition ${p}`).toEqual([baseOffset, lastOffset]);
      }
    }
  } finally {
    await store.close();
  }
  // Opening finished what the crash cut short: no batch bytes without a data key, or the reverse.
  await expectBatchDatabaseMatchesIndex(dataDir);
}

describe('crash safety (kill -9 of a writer process)', () => {
  for (const flushPolicy of ['os', 'always'] as const) {
    it(`keeps every acknowledged batch and no torn one, flush policy ${flushPolicy}`, { timeout: 90_000 }, async () => {
      const dataDir = await mkdtemp(join(tmpdir(), `rivulet-crash-${flushPolicy}-`));
      const random = new SeededRandom(flushPolicy === 'os' ? 11 : 12);
      const acknowledged: Acknowledged = {
        batches: Array.from({ length: CRASH_PARTITIONS }, () => new Map()),
        highWatermarks: new Array<number>(CRASH_PARTITIONS).fill(0),
        logStarts: new Array<number>(CRASH_PARTITIONS).fill(0),
      };
      try {
        for (let i = 0; i < ITERATIONS_PER_POLICY; i++) {
          await runAndKill(dataDir, flushPolicy, random.nextInt(1 << 30), random.nextInt(400), acknowledged);
          await verify(dataDir, acknowledged);
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  }
});
