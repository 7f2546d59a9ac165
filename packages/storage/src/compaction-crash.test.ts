import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRandom } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { LogStore } from './log-store.js';
import { COMPACTION_CRASH_TOPIC, compactionCrashKey, compactionCrashRecordCount, parseCompactionCrashValue } from './testing/compaction-crash-batches.js';
import { expectConsistentAccounting, readWholeLog } from './testing/compaction-model.js';
import { expectBatchDatabaseMatchesIndex } from './testing/store-consistency.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const writerScript = fileURLToPath(new URL('./testing/compaction-crash-writer.ts', import.meta.url));
const ITERATIONS = 3;

/** Runs the writer until `minAcks` acknowledgements, then SIGKILLs it after `extraDelayMs`; records each acknowledged batch's base offset. */
async function runAndKill(dataDir: string, seed: number, extraDelayMs: number, acknowledged: Map<number, number>): Promise<void> {
  const child = spawn(process.execPath, ['--conditions=@rivulet/source', '--import', 'tsx', writerScript, dataDir, String(seed)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let pending = '';
  let acks = 0;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let killTimer: NodeJS.Timeout | undefined;
  const watchdog = setTimeout(() => child.kill('SIGKILL'), 30_000);
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const [kind, batchNumber, baseOffset] = line.split(' ');
      if (kind !== 'ack') continue;
      acknowledged.set(Number(batchNumber), Number(baseOffset));
      if (++acks >= 150 && killTimer === undefined) killTimer = setTimeout(() => child.kill('SIGKILL'), extraDelayMs);
    }
  });
  const code = await exited;
  clearTimeout(watchdog);
  if (killTimer !== undefined) clearTimeout(killTimer);
  expect(code, `writer exited by itself: ${stderr}`).toBeNull();
  expect(acks, `writer made no progress: ${stderr}`).toBeGreaterThan(0);
}

/**
 * Reopens the store and checks the log is readable (whole batches, valid CRCs, increasing
 * offsets), holds only records the writer wrote at the offsets it wrote them, keeps for every
 * key its latest acknowledged record or a later one, has each key at most once below the
 * cleaner checkpoint, and that size and checkpoint accounting match the batches.
 */
async function verify(dataDir: string, acknowledged: Map<number, number>): Promise<number> {
  const store = await LogStore.open({ dataDir, flushPolicy: 'os' });
  let cleanedUpTo: number;
  try {
    const log = await store.openPartition({ topic: COMPACTION_CRASH_TOPIC, partition: 0 }, { retentionMs: -1, retentionBytes: -1 });
    const { records, batches } = await readWholeLog(log);
    expectConsistentAccounting(log, batches);
    const baseOf = new Map<number, number>();
    for (const record of records) {
      const { batchNumber, index } = parseCompactionCrashValue(record.value!);
      expect(record.key).toBe(compactionCrashKey(batchNumber, index));
      expect(index).toBeLessThan(compactionCrashRecordCount(batchNumber));
      const base = record.offset - index;
      expect(baseOf.get(batchNumber) ?? base, `records of batch ${batchNumber} at inconsistent offsets`).toBe(base);
      baseOf.set(batchNumber, base);
      const acked = acknowledged.get(batchNumber);
      if (acked !== undefined) expect(base, `batch ${batchNumber} moved`).toBe(acked);
    }
    const latestPresent = new Map<string, number>();
    for (const record of records) latestPresent.set(record.key!, record.offset);
    const latestAcknowledged = new Map<string, number>();
    for (const [batchNumber, baseOffset] of acknowledged) {
      for (let index = 0; index < compactionCrashRecordCount(batchNumber); index++) {
        const key = compactionCrashKey(batchNumber, index);
        latestAcknowledged.set(key, Math.max(latestAcknowledged.get(key) ?? -1, baseOffset + index));
      }
    }
    for (const [key, offset] of latestAcknowledged) {
      expect(latestPresent.get(key) ?? -1, `key ${key}: its latest acknowledged record (offset ${offset}) is lost`).toBeGreaterThanOrEqual(offset);
    }
    const cleanKeys = records.filter((r) => r.offset < log.cleanerCheckpoint().cleanedUpToOffset).map((r) => r.key);
    expect(new Set(cleanKeys).size).toBe(cleanKeys.length);
    cleanedUpTo = log.cleanerCheckpoint().cleanedUpToOffset;
  } finally {
    await store.close();
  }
  // Rewritten and removed batches left no bytes behind, whatever the crash cut short.
  await expectBatchDatabaseMatchesIndex(dataDir);
  return cleanedUpTo;
}

describe('compaction crash safety (kill -9 of a writer that cleans)', () => {
  it('leaves a readable, consistent log that keeps every key\'s latest acknowledged record', { timeout: 90_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'rivulet-compaction-crash-'));
    const random = new SeededRandom(21);
    const acknowledged = new Map<number, number>();
    try {
      let cleanedUpTo = 0;
      for (let i = 0; i < ITERATIONS; i++) {
        await runAndKill(dataDir, random.nextInt(1 << 30), random.nextInt(300), acknowledged);
        cleanedUpTo = await verify(dataDir, acknowledged);
      }
      expect(cleanedUpTo, 'the writer never completed a cleaning chunk').toBeGreaterThan(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
