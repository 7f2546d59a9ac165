#!/usr/bin/env node
// One consumer-group member as a process of its own, for fault tests that kill members with
// SIGKILL: the @rivulet/client Consumer subscribed to one topic in a group, processing each
// record by reporting it, and committing what it processed (never more) every
// commitIntervalMs. Started by `GroupConsumerProcess` with its configuration as one JSON
// argument; it reports on stdout, one JSON object per line (`MemberReport` in
// fault/group-history.ts): ready, assigned/revoked/lost (with the generation), processed,
// committing/committed/commit-failed, failed, closed. Partitions being revoked are committed in
// onPartitionsRevoked. The client's own log goes to stderr.
// SIGTERM stops it gracefully: a last commit, then close (which leaves the group).
import { once } from 'node:events';
import { RivuletClient, type TopicPartitionRef } from '@rivulet/client';
import type { Logger } from '@rivulet/common';
import type { CommittedPartition, MemberReport } from './fault/group-history.js';
import type { GroupConsumerWorkerConfig } from './group-consumer-process.js';

const config = JSON.parse(process.argv[2] ?? '{}') as GroupConsumerWorkerConfig;
const stdout = process.stdout;
// The harness is gone: nothing to report to.
stdout.on('error', () => process.exit(2));

/** Bytes queued on stdout beyond which processing waits for the pipe (the harness reads slower than we write). */
const MAX_QUEUED_BYTES = 1024 * 1024;

function report(line: MemberReport): void {
  stdout.write(`${JSON.stringify(line)}\n`);
}

/** Reports, and resolves once the line (and every line before it) is handed to the pipe. */
function reportFlushed(line: MemberReport): Promise<void> {
  return new Promise((resolve, reject) => stdout.write(`${JSON.stringify(line)}\n`, (err) => (err ? reject(err) : resolve())));
}

function stderrLogger(bindings: object): Logger {
  const write = (level: string, fields: object, msg: string): void => {
    const entry: Record<string, unknown> = { level, time: Date.now(), ...bindings, ...fields, msg };
    if (entry.err instanceof Error) entry.err = { name: entry.err.name, message: entry.err.message };
    process.stderr.write(`${JSON.stringify(entry)}\n`);
  };
  return {
    trace: () => {},
    debug: () => {},
    info: (fields, msg) => write('info', fields, msg),
    warn: (fields, msg) => write('warn', fields, msg),
    error: (fields, msg) => write('error', fields, msg),
    child: (more) => stderrLogger({ ...bindings, ...more }),
  };
}

const describeError = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const client = new RivuletClient({
  bootstrap: config.bootstrap,
  clientId: config.clientId,
  requestTimeoutMs: config.requestTimeoutMs,
  metadataMaxAgeMs: 2000,
  logger: stderrLogger({ member: config.clientId }),
});
const consumer = client.consumer({
  groupId: config.groupId,
  sessionTimeoutMs: config.sessionTimeoutMs,
  heartbeatIntervalMs: config.heartbeatIntervalMs,
  rebalanceTimeoutMs: config.rebalanceTimeoutMs,
  partitionAssigners: config.assignors,
  // Commits are this process's own, after processing, so that each is reported.
  autoCommit: false,
  autoOffsetReset: 'earliest',
  fetchMaxWaitMs: 100,
  maxPrefetchBytes: 1024 * 1024,
});

/** Next offset after the last record processed, per owned partition. */
const processedNext = new Map<number, number>();
/** What was last committed, per owned partition. */
const committedNext = new Map<number, number>();
let stopping = false;

const generation = (): number => consumer.groupMetadata()?.generationId ?? -1;
const owned = (): number[] =>
  consumer
    .assignment()
    .filter((tp) => tp.topic === config.topic)
    .map((tp) => tp.partition)
    .sort((a, b) => a - b);
const numbers = (tps: readonly TopicPartitionRef[]): number[] => tps.map((tp) => tp.partition).sort((a, b) => a - b);

function forget(partitions: readonly number[]): void {
  for (const p of partitions) {
    processedNext.delete(p);
    committedNext.delete(p);
  }
}

consumer.subscribe([config.topic], {
  onPartitionsAssigned: (tps) => {
    report({ type: 'assigned', t: Date.now(), generation: generation(), memberId: consumer.groupMetadata()?.memberId ?? '', partitions: numbers(tps), owned: owned() });
  },
  // Kafka's pattern without autoCommit: commit what was processed of the partitions given up, before they move.
  onPartitionsRevoked: async (tps) => {
    await commitProcessed(numbers(tps));
    forget(numbers(tps));
    report({ type: 'revoked', t: Date.now(), generation: generation(), partitions: numbers(tps) });
  },
  onPartitionsLost: (tps) => {
    forget(numbers(tps));
    report({ type: 'lost', t: Date.now(), generation: generation(), partitions: numbers(tps) });
  },
});
report({ type: 'ready', t: Date.now(), pid: process.pid });

/**
 * Commits the processed offsets (of `only` these partitions, or all) that changed since the last
 * commit, after every `processed` line before it reached the pipe.
 */
async function commitProcessed(only?: readonly number[]): Promise<void> {
  const offsets: CommittedPartition[] = [...processedNext]
    .filter(([partition, offset]) => committedNext.get(partition) !== offset && (only === undefined || only.includes(partition)))
    .map(([partition, offset]) => ({ partition, offset }))
    .sort((a, b) => a.partition - b.partition);
  if (offsets.length === 0) return;
  const generationId = generation();
  await reportFlushed({ type: 'committing', t: Date.now(), generation: generationId, offsets });
  try {
    await consumer.commitOffsets(offsets.map(({ partition, offset }) => ({ topic: config.topic, partition, offset })));
    for (const { partition, offset } of offsets) if (processedNext.has(partition)) committedNext.set(partition, offset);
    report({ type: 'committed', t: Date.now(), generation: generationId, offsets });
  } catch (err) {
    report({ type: 'commit-failed', t: Date.now(), generation: generationId, offsets, error: describeError(err) });
  }
}

const committing = (async () => {
  while (!stopping) {
    await sleep(config.commitIntervalMs);
    if (!stopping) await commitProcessed();
  }
})();

const running = consumer.run({
  eachRecord: async (record) => {
    // Once stopping, records are left unprocessed (and uncommitted) for the next owner.
    if (stopping || record.topic !== config.topic) return;
    report({ type: 'processed', t: Date.now(), partition: record.partition, offset: record.offset, value: record.value?.toString() ?? '' });
    if (stdout.writableLength > MAX_QUEUED_BYTES) await once(stdout, 'drain');
    processedNext.set(record.partition, record.offset + 1);
  },
});

running.then(
  () => undefined,
  async (err: unknown) => {
    if (stopping) return;
    await reportFlushed({ type: 'failed', t: Date.now(), error: describeError(err) }).catch(() => undefined);
    process.exit(1);
  },
);

process.once('SIGTERM', () => {
  void (async () => {
    stopping = true;
    await committing;
    await commitProcessed();
    await consumer.close();
    await client.close().catch(() => undefined);
    await reportFlushed({ type: 'closed', t: Date.now() });
    process.exit(0);
  })();
});
