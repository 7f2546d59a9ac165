/**
 * Produce/consume benchmark of one Rivulet node over the gRPC client API, with 1 KiB
 * records by default. It starts its own node (a fresh temporary data directory, in a child
 * process so the node's CPU time can be read from /proc) unless --bootstrap is given.
 *
 * Produce: `--concurrency` workers each keep one produce request in flight; a request
 * carries one RecordBatch v2 of `--batch-records` records for one partition (round robin),
 * encoded per request as a producer would. Latency is the request round trip.
 * Consume: one consumer fetches every partition from offset 0 until it has read every
 * produced record, decoding every record.
 *
 *   npx tsx scripts/bench/produce-consume.ts --records 500000 --partitions 8
 *   npx tsx scripts/bench/produce-consume.ts --records 2000 --batch-records 1 --concurrency 1   # one record at a time
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import * as hdr from 'hdr-histogram-js';
import { clientApi } from '@rivulet/proto';
import { decodeRecordBatchesSync, encodeRecordBatchSync } from '@rivulet/records';
import { NodeProcess } from '@rivulet/testkit';
import { CLIENT_CHANNEL_OPTIONS } from '@rivulet/transport-grpc';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    partitions: { type: 'string', default: '1' },
    'batch-records': { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '8' },
    acks: { type: 'string', default: '1' },
    'record-bytes': { type: 'string', default: '1024' },
    compression: { type: 'string', default: 'none' },
    flush: { type: 'string', default: 'os' },
    bootstrap: { type: 'string' },
    'node-pid': { type: 'string' },
    'skip-consume': { type: 'boolean', default: false },
    'max-seconds': { type: 'string', default: '120' },
    // Kafka consumer defaults: max.partition.fetch.bytes 1 MiB; fetch.max.bytes 50 MiB.
    'partition-fetch-bytes': { type: 'string', default: '1048576' },
    'fetch-bytes': { type: 'string', default: '52428800' },
  },
});

const recordCount = Number(args.records);
const partitionCount = Number(args.partitions);
const batchRecords = Number(args['batch-records']);
const concurrency = Number(args.concurrency);
const acks = args.acks === 'all' ? -1 : Number(args.acks);
const recordBytes = Number(args['record-bytes']);
const compression = args.compression as 'none' | 'gzip' | 'snappy' | 'lz4';
const maxSeconds = Number(args['max-seconds']);
const topic = `bench-${Date.now()}`;

type Call<Req, Res> = (req: Req, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** The node under test, as users run it (`rivulet start`), in its own process. */
async function startLocalNode(): Promise<{ node: NodeProcess; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rivulet-bench-'));
  const nodeArgs = process.env.RIVULET_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const node = new NodeProcess({ dataDir, nodeArgs, args: ['--flush-policy', args.flush, '--auto-create-topics', 'false'] });
  await node.start();
  return { node, dataDir };
}

/** utime + stime of a process in seconds, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentiles(histogram: hdr.Histogram): string {
  const us = (p: number) => histogram.getValueAtPercentile(p).toLocaleString('en-US');
  return `${us(50)} / ${us(99)} / ${us(99.9)}`;
}

async function main(): Promise<void> {
  const local = args.bootstrap ? undefined : await startLocalNode();
  const address = args.bootstrap ?? local!.node.grpcAddress;
  const nodePid = local?.node.pid ?? (args['node-pid'] ? Number(args['node-pid']) : undefined);
  const client = new clientApi.ClientApiClient(address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 << 20,
    'grpc.max_send_message_length': 64 << 20,
    ...CLIENT_CHANNEL_OPTIONS,
  });
  const call = <Req, Res>(method: Call<Req, Res>, request: Req): Promise<Res> =>
    new Promise((resolve, reject) => method.call(client, request, (err, res) => (err ? reject(err) : resolve(res))));

  const created = await call<clientApi.CreateTopicsRequest, clientApi.CreateTopicsResponse>(client.createTopics, { topics: [{ name: topic, partitions: partitionCount, replicationFactor: 1, configs: {} }], validateOnly: false });
  if (created.results[0]!.errorCode !== 0) throw new Error(`create topic failed: ${created.results[0]!.errorMessage}`);

  // A pool of random payloads, so the bytes are not trivially compressible and no two records alias.
  const payloads = Array.from({ length: 64 }, () => randomBytes(recordBytes));
  const latencyUs = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const deadlineMs = performance.now() + maxSeconds * 1000;
  let issued = 0;
  let acknowledged = 0;
  let nextPartition = 0;
  const cpuBefore = nodePid ? cpuSeconds(nodePid) : 0;
  const produceStart = performance.now();

  async function worker(): Promise<void> {
    while (issued < recordCount && performance.now() < deadlineMs) {
      const count = Math.min(batchRecords, recordCount - issued);
      issued += count;
      const partition = nextPartition++ % partitionCount;
      const nowMs = Date.now();
      const records = Array.from({ length: count }, (_, i) => ({ key: null, value: payloads[(issued + i) % payloads.length]!, timestampMs: nowMs }));
      const batch = encodeRecordBatchSync({ records, compression });
      const sentAt = performance.now();
      const response = await call<clientApi.ProduceRequest, clientApi.ProduceResponse>(client.produce, { acks, timeoutMs: 30_000, topics: [{ name: topic, partitions: [{ partition, records: batch }] }] });
      latencyUs.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
      const result = response.topics[0]?.partitions[0];
      if (acks !== 0 && result?.errorCode !== 0) throw new Error(`produce failed: ${result?.errorCode} ${result?.errorMessage}`);
      acknowledged += count;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  const produceSeconds = (performance.now() - produceStart) / 1000;
  const produceCpu = nodePid ? cpuSeconds(nodePid) - cpuBefore : NaN;
  const producedBytes = acknowledged * recordBytes;

  const rows: string[][] = [];
  const mbps = (bytes: number, seconds: number) => (bytes / 1e6 / seconds).toFixed(1);
  rows.push([
    'produce',
    Math.round(acknowledged / produceSeconds).toLocaleString('en-US'),
    mbps(producedBytes, produceSeconds),
    percentiles(latencyUs),
    nodePid ? (produceCpu / (producedBytes / 1e9)).toFixed(1) : 'n/a',
  ]);

  if (!args['skip-consume'] && acks !== 0) {
    const offsets = new Array<number>(partitionCount).fill(0);
    let consumed = 0;
    let consumedBytes = 0;
    const cpuBeforeConsume = nodePid ? cpuSeconds(nodePid) : 0;
    const consumeStart = performance.now();
    while (consumed < acknowledged && performance.now() < deadlineMs + 60_000) {
      const response = await call<clientApi.FetchRequest, clientApi.FetchResponse>(client.fetch, {
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: Number(args['fetch-bytes']),
        topics: [{ name: topic, partitions: offsets.map((fetchOffset, partition) => ({ partition, fetchOffset, partitionMaxBytes: Number(args['partition-fetch-bytes']), currentLeaderEpoch: -1 })) }],
      });
      for (const p of response.topics[0]!.partitions) {
        if (p.errorCode !== 0) throw new Error(`fetch failed: ${p.errorCode} ${p.errorMessage}`);
        for (const batch of decodeRecordBatchesSync(p.records)) {
          for (const record of batch.records) {
            if (record.offset < offsets[p.partition]!) continue;
            consumed++;
            consumedBytes += record.value?.length ?? 0;
          }
        }
        offsets[p.partition] = p.nextOffset;
      }
    }
    const consumeSeconds = (performance.now() - consumeStart) / 1000;
    const consumeCpu = nodePid ? cpuSeconds(nodePid) - cpuBeforeConsume : NaN;
    rows.push([
      'consume',
      Math.round(consumed / consumeSeconds).toLocaleString('en-US'),
      mbps(consumedBytes, consumeSeconds),
      '',
      nodePid ? (consumeCpu / (consumedBytes / 1e9)).toFixed(1) : 'n/a',
    ]);
  }

  client.close();
  if (local) {
    await local.node.stop();
    rmSync(local.dataDir, { recursive: true, force: true });
  }

  console.log(
    `\n${recordCount.toLocaleString('en-US')} records of ${recordBytes} B, ${partitionCount} partition(s), ${batchRecords} records/batch, ` +
      `${concurrency} in flight, acks=${args.acks}, compression=${compression}, flush=${args.flush}\n`,
  );
  console.log('| phase | records/s | MB/s | request latency p50 / p99 / p999 (µs) | node CPU s per GB |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
