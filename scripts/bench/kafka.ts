/**
 * The Kafka listener against the gRPC client API on one node (issue target: the Kafka
 * listener within 15 % of the gRPC API's throughput), 1 KiB incompressible records, acks=1.
 * It starts one `rivulet start` process with both listeners on a fresh data directory, then,
 * each on its own topic:
 *
 * - gRPC: `produce-consume.ts --bootstrap` against the node (the Rivulet client's transport,
 *   100-record batches, 8 requests in flight), its produce and consume rows as printed;
 * - kcat (librdkafka, C: the client costs little, so this is the listener's throughput):
 *   `kcat -P` of every record from a file, then `kcat -C -e` of all of them;
 * - KafkaJS (pure JavaScript, its own CPU is usually the limit): `producer.send` of
 *   100-record batches, 8 in flight, latency per send. KafkaJS consumes only in a group, which
 *   the listener does not serve yet, so it has no consume row.
 *
 * "node CPU s/GB" is the node process's CPU time (all threads) per GB of record values.
 *
 *   npx tsx --conditions=@rivulet/source scripts/bench/kafka.ts --records 200000
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { RivuletClient } from '@rivulet/client';
import { NodeProcess } from '@rivulet/testkit';
import { cpuSeconds } from './process-cpu.js';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    partitions: { type: 'string', default: '1' },
    'record-bytes': { type: 'string', default: '1024' },
    concurrency: { type: 'string', default: '8' },
    'batch-records': { type: 'string', default: '100' },
  },
});
const recordCount = Number(args.records);
const partitionCount = Number(args.partitions);
const recordBytes = Number(args['record-bytes']);
const concurrency = Number(args.concurrency);
const batchRecords = Number(args['batch-records']);

interface Row {
  client: string;
  phase: 'produce' | 'consume';
  recordsPerSec: number;
  mbPerSec: number;
  latency: string;
  cpuPerGb: number;
}

/** Runs `work`, returning its wall seconds and the node's CPU seconds per GB of `bytes`. */
async function measure(pid: number, bytes: number, work: () => Promise<void>): Promise<{ seconds: number; cpuPerGb: number }> {
  const cpuBefore = cpuSeconds(pid);
  const start = performance.now();
  await work();
  const seconds = (performance.now() - start) / 1000;
  return { seconds, cpuPerGb: (cpuSeconds(pid) - cpuBefore) / (bytes / 1e9) };
}

function row(client: string, phase: Row['phase'], records: number, seconds: number, cpuPerGb: number, latency = ''): Row {
  return { client, phase, recordsPerSec: records / seconds, mbPerSec: (records * recordBytes) / 1e6 / seconds, latency, cpuPerGb };
}

/** Runs a command to completion, rejecting on a non-zero exit. */
function run(command: string, commandArgs: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}: ${err.slice(-500)}`))));
  });
}

/** The gRPC rows: the produce-consume benchmark against this node, its table parsed. */
async function grpcRows(grpcAddress: string, pid: number): Promise<Row[]> {
  const script = fileURLToPath(new URL('./produce-consume.ts', import.meta.url));
  const out = await run('npx', ['tsx', '--conditions=@rivulet/source', script, '--bootstrap', grpcAddress, '--node-pid', String(pid), '--records', String(recordCount), '--partitions', String(partitionCount), '--concurrency', String(concurrency), '--batch-records', String(batchRecords), '--record-bytes', String(recordBytes)]);
  const rows: Row[] = [];
  for (const line of out.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells[1] !== 'produce' && cells[1] !== 'consume') continue;
    const recordsPerSec = Number(cells[2]!.replaceAll(',', ''));
    const latency = cells[1] === 'produce' ? cells[4]!.split(' / ').slice(0, 2).map((us) => (Number(us.replaceAll(',', '')) / 1000).toFixed(1)).join(' / ') : '';
    rows.push({ client: 'gRPC (Rivulet client transport)', phase: cells[1], recordsPerSec, mbPerSec: Number(cells[3]), latency, cpuPerGb: Number(cells[5]) });
  }
  if (rows.length !== 2) throw new Error(`unexpected produce-consume output:\n${out}`);
  return rows;
}

async function kcatRows(bootstrap: string, topic: string, pid: number, dir: string): Promise<Row[]> {
  // One record per line: printable, so newline can delimit them; random, so nothing compresses.
  const lineBytes = recordBytes;
  const file = join(dir, 'records.txt');
  const pool = Array.from({ length: 64 }, () => randomBytes(lineBytes).toString('base64').slice(0, lineBytes));
  writeFileSync(file, Array.from({ length: recordCount }, (_, i) => pool[i % pool.length]).join('\n') + '\n');
  const bytes = recordCount * recordBytes;
  // librdkafka's defaults except acks=1 (as the other clients) and a 5 ms linger (Kafka 3.x's default).
  const produce = await measure(pid, bytes, () => run('kcat', ['-P', '-b', bootstrap, '-t', topic, '-X', 'acks=1', '-X', 'linger.ms=5', '-l', file]).then(() => undefined));
  const consume = await measure(pid, bytes, async () => {
    const out = await run('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%o\n']);
    const count = out.split('\n').filter(Boolean).length;
    if (count !== recordCount) throw new Error(`kcat consumed ${count} of ${recordCount} records`);
  });
  return [row('kcat (librdkafka)', 'produce', recordCount, produce.seconds, produce.cpuPerGb), row('kcat (librdkafka)', 'consume', recordCount, consume.seconds, consume.cpuPerGb)];
}

async function kafkajsRows(bootstrap: string, topic: string, pid: number): Promise<Row[]> {
  const kafka = new Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const payloads = Array.from({ length: 64 }, () => randomBytes(recordBytes));
  const latencyUs = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let issued = 0;
  let partition = 0;
  const produce = await measure(pid, recordCount * recordBytes, async () => {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (issued < recordCount) {
          const count = Math.min(batchRecords, recordCount - issued);
          issued += count;
          const messages = Array.from({ length: count }, (_, i) => ({ value: payloads[(issued + i) % payloads.length]!, partition: partition % partitionCount }));
          partition++;
          const sentAt = performance.now();
          await producer.send({ topic, acks: 1, compression: CompressionTypes.None, messages });
          latencyUs.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
        }
      }),
    );
  });
  await producer.disconnect();
  // Reading back goes through a consumer group: KafkaJS has no other way to consume.
  const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxBytesPerPartition: 1 << 20, maxBytes: 50 << 20 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let consumed = 0;
  const consume = await measure(pid, recordCount * recordBytes, async () => {
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          consumed += batch.messages.length;
          if (consumed >= recordCount) resolve();
        },
      });
    });
  });
  await consumer.disconnect();
  const ms = (p: number) => (latencyUs.getValueAtPercentile(p) / 1000).toFixed(1);
  return [
    row('KafkaJS 2.2', 'produce', recordCount, produce.seconds, produce.cpuPerGb, `${ms(50)} / ${ms(99)}`),
    row('KafkaJS 2.2 (consumer group)', 'consume', recordCount, consume.seconds, consume.cpuPerGb),
  ];
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rivulet-bench-kafka-'));
  const node = new NodeProcess({ dataDir, args: ['--kafka-port', '0', '--auto-create-topics', 'false', '--group-initial-rebalance-delay-ms', '0'] });
  await node.start();
  try {
    const pid = node.pid!;
    const kafkaAddress = node.kafkaAddress;
    if (kafkaAddress === null) throw new Error('the node did not report a Kafka listener');
    const client = new RivuletClient({ bootstrap: [node.grpcAddress] });
    await client.admin().createTopics(['bench-kcat', 'bench-kafkajs'].map((name) => ({ name, partitions: partitionCount, replicationFactor: 1 })));
    await client.close();
    const rows = [...(await grpcRows(node.grpcAddress, pid)), ...(await kcatRows(kafkaAddress, 'bench-kcat', pid, dataDir)), ...(await kafkajsRows(kafkaAddress, 'bench-kafkajs', pid))];
    const versions = /Version (\S+) .*librdkafka (\S+)/.exec(execFileSync('kcat', ['-V']).toString());
    const kcatVersion = versions === null ? 'kcat' : `kcat ${versions[1]} (librdkafka ${versions[2]})`;
    console.log(`\n${recordCount.toLocaleString('en-US')} records of ${recordBytes} B, ${partitionCount} partition(s), acks=1, one node (flush=os); ${kcatVersion}\n`);
    console.log('| client | phase | records/s | MB/s | latency p50 / p99 (ms, per request) | node CPU s per GB |');
    console.log('|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.client} | ${r.phase} | ${Math.round(r.recordsPerSec).toLocaleString('en-US')} | ${r.mbPerSec.toFixed(1)} | ${r.latency} | ${r.cpuPerGb.toFixed(1)} |`);
    const grpc = rows.filter((r) => r.client.startsWith('gRPC'));
    const kcat = rows.filter((r) => r.client.startsWith('kcat'));
    for (const phase of ['produce', 'consume'] as const) {
      const ratio = kcat.find((r) => r.phase === phase)!.recordsPerSec / grpc.find((r) => r.phase === phase)!.recordsPerSec;
      console.log(`\nKafka listener (kcat) / gRPC API, ${phase}: ${ratio.toFixed(2)} (target ≥ 0.85)`);
    }
  } finally {
    await node.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
