/**
 * Produce/consume benchmark of Rivulet over the gRPC client API, with 1 KiB records by
 * default. It starts its own node (a fresh temporary data directory, in a child process so
 * the node's CPU time can be read from /proc) unless --bootstrap is given; with --cluster N it
 * starts 3 controllers and N brokers instead (LocalCluster), and --replication-factor sets the
 * topic's replicas. Requests go to each partition's leader.
 *
 * Produce: `--concurrency` workers each keep one produce request in flight; a request
 * carries one RecordBatch v2 of `--batch-records` records for one partition (round robin),
 * encoded per request as a producer would. Latency is the request round trip.
 * Consume: one consumer fetches every partition from offset 0 until it has read every
 * produced record, decoding every record.
 *
 *   npx tsx scripts/bench/produce-consume.ts --records 500000 --partitions 8
 *   npx tsx scripts/bench/produce-consume.ts --records 2000 --batch-records 1 --concurrency 1   # one record at a time
 *   npx tsx scripts/bench/produce-consume.ts --cluster 3 --replication-factor 3 --acks all --partitions 3 --e2e
 *
 * --e2e runs the consumer while producing and reports end-to-end latency: from the record's
 * timestamp (set when the producer encodes it) to its receipt by the consumer, in ms.
 *
 * --warmup-records N first produces N records the same way, unmeasured (the consumers start
 * after them): the processes are freshly started, and their first seconds (JIT compilation,
 * young-generation sizing) are slower than what follows.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import * as hdr from 'hdr-histogram-js';
import { GrpcBrokerTransport } from '@rivulet/client';
import { clientApi } from '@rivulet/proto';
import { decodeRecordBatchesSync, encodeRecordBatchSync } from '@rivulet/records';
import { LocalCluster, NodeProcess } from '@rivulet/testkit';
import { cpuSeconds } from './process-cpu.js';
import { CLIENT_CHANNEL_OPTIONS } from '@rivulet/transport-grpc';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    'warmup-records': { type: 'string', default: '0' },
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
    cluster: { type: 'string', default: '0' },
    'replication-factor': { type: 'string', default: '1' },
    e2e: { type: 'boolean', default: false },
    'max-seconds': { type: 'string', default: '120' },
    // Kafka consumer defaults: max.partition.fetch.bytes 1 MiB; fetch.max.bytes 50 MiB.
    'partition-fetch-bytes': { type: 'string', default: '1048576' },
    'fetch-bytes': { type: 'string', default: '52428800' },
  },
});

const recordCount = Number(args.records);
const warmupRecords = Number(args['warmup-records']);
const partitionCount = Number(args.partitions);
const batchRecords = Number(args['batch-records']);
const concurrency = Number(args.concurrency);
const acks = args.acks === 'all' ? -1 : Number(args.acks);
const recordBytes = Number(args['record-bytes']);
const compression = args.compression as 'none' | 'gzip' | 'snappy' | 'lz4';
const maxSeconds = Number(args['max-seconds']);
const topic = `bench-${Date.now()}`;
const clusterBrokers = Number(args.cluster);
const replicationFactor = Number(args['replication-factor']);

type Call<Req, Res> = (req: Req, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** The node under test, as users run it (`rivulet start`), in its own process. */
async function startLocalNode(): Promise<{ node: NodeProcess; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rivulet-bench-'));
  const nodeArgs = process.env.RIVULET_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const node = new NodeProcess({ dataDir, nodeArgs, args: ['--flush-policy', args.flush, '--auto-create-topics', 'false'] });
  await node.start();
  return { node, dataDir };
}

function percentiles(histogram: hdr.Histogram): string {
  const us = (p: number) => histogram.getValueAtPercentile(p).toLocaleString('en-US');
  return `${us(50)} / ${us(99)} / ${us(99.9)}`;
}

/** 3 controllers and `brokers` brokers as processes, as users deploy them. */
async function startCluster(brokers: number): Promise<{ cluster: LocalCluster; baseDir: string }> {
  const baseDir = mkdtempSync(join(tmpdir(), 'rivulet-bench-cluster-'));
  const nodeArgs = process.env.RIVULET_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const cluster = await LocalCluster.start({ baseDir, controllers: 3, brokers, nodeArgs, args: ['--flush-policy', args.flush, '--auto-create-topics', 'false'] });
  return { cluster, baseDir };
}

type Client = InstanceType<typeof clientApi.ClientApiClient>;

function connect(address: string): Client {
  return new clientApi.ClientApiClient(address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 << 20,
    'grpc.max_send_message_length': 64 << 20,
    ...CLIENT_CHANNEL_OPTIONS,
  });
}

async function main(): Promise<void> {
  const cluster = clusterBrokers > 0 ? await startCluster(clusterBrokers) : undefined;
  const local = args.bootstrap || cluster ? undefined : await startLocalNode();
  const address = args.bootstrap ?? cluster?.cluster.bootstrap()[0] ?? local!.node.grpcAddress;
  const nodePids = cluster ? [...cluster.cluster.nodes.values()].map((n) => n.pid!) : local ? [local.node.pid!] : args['node-pid'] ? [Number(args['node-pid'])] : [];
  const nodeCpuSeconds = (): number => nodePids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const client = connect(address);
  const call = <Req, Res>(method: Call<Req, Res>, request: Req, via: Client = client): Promise<Res> =>
    new Promise((resolve, reject) => method.call(via, request, (err, res) => (err ? reject(err) : resolve(res))));

  const created = await call<clientApi.CreateTopicsRequest, clientApi.CreateTopicsResponse>(client.createTopics, { topics: [{ name: topic, partitions: partitionCount, replicationFactor, configs: {} }], validateOnly: false });
  if (created.results[0]!.errorCode !== 0) throw new Error(`create topic failed: ${created.results[0]!.errorMessage}`);
  // Every partition's leader, and one channel per leader broker.
  const metadata = await call<clientApi.MetadataRequest, clientApi.MetadataResponse>(client.getMetadata, { topics: [topic], allowAutoTopicCreation: false });
  const leaderClients = new Map<number, Client>();
  // Produce goes through the client library's transport (its produce stream), as producers do.
  const leaderTransports = new Map<number, GrpcBrokerTransport>();
  const partitionClients = metadata.topics[0]!.partitions
    .sort((a, b) => a.partition - b.partition)
    .map((p) => {
      const broker = metadata.brokers.find((b) => b.nodeId === p.leaderId);
      if (broker === undefined) throw new Error(`partition ${p.partition} has no leader`);
      let c = leaderClients.get(p.leaderId);
      if (c === undefined) leaderClients.set(p.leaderId, (c = connect(`${broker.host}:${broker.grpcPort}`)));
      if (!leaderTransports.has(p.leaderId)) leaderTransports.set(p.leaderId, new GrpcBrokerTransport(`${broker.host}:${broker.grpcPort}`, 'bench'));
      return c;
    });

  const partitionTransports = metadata.topics[0]!.partitions.map((p) => leaderTransports.get(p.leaderId)!);

  // A pool of random payloads, so the bytes are not trivially compressible and no two records alias.
  const payloads = Array.from({ length: 64 }, () => randomBytes(recordBytes));
  const latencyUs = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const deadlineMs = performance.now() + maxSeconds * 1000;
  let issued = 0;
  let acknowledged = 0;
  let nextPartition = 0;

  /** Produces `count` records to the next partition (round robin); resolves with the request's round trip in ms. */
  async function produceOne(count: number, firstIndex: number): Promise<{ partition: number; ms: number }> {
    const partition = nextPartition++ % partitionCount;
    const nowMs = Date.now();
    const records = Array.from({ length: count }, (_, i) => ({ key: null, value: payloads[(firstIndex + i) % payloads.length]!, timestampMs: nowMs }));
    const batch = encodeRecordBatchSync({ records, compression });
    const sentAt = performance.now();
    const response = await partitionTransports[partition]!.produce({ acks, timeoutMs: 30_000, topics: [{ name: topic, partitions: [{ partition, records: batch }] }] }, 35_000);
    const ms = performance.now() - sentAt;
    const result = response.topics[0]?.partitions[0];
    if (acks !== 0 && result?.errorCode !== 0) throw new Error(`produce failed: ${result?.errorCode} ${result?.errorMessage}`);
    return { partition, ms };
  }

  // Warm-up records are produced like the measured ones; consumers start after them.
  const startOffsets = new Array<number>(partitionCount).fill(0);
  let warmed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (warmed < warmupRecords) {
        const count = Math.min(batchRecords, warmupRecords - warmed);
        warmed += count;
        const { partition } = await produceOne(count, warmed);
        startOffsets[partition]! += count;
      }
    }),
  );
  const cpuBefore = nodePids.length > 0 ? nodeCpuSeconds() : 0;
  const e2eMs = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 3 });
  let producing = true;
  // Started before the first produce; done once producing stopped and it read every acknowledged record.
  const e2eConsumer = args.e2e ? consumeUntil((consumed) => !producing && consumed >= acknowledged, deadlineMs + 60_000, e2eMs) : undefined;
  const produceStart = performance.now();

  async function worker(): Promise<void> {
    while (issued < recordCount && performance.now() < deadlineMs) {
      const count = Math.min(batchRecords, recordCount - issued);
      issued += count;
      const { ms } = await produceOne(count, issued);
      latencyUs.recordValue(Math.max(1, Math.round(ms * 1000)));
      acknowledged += count;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  const produceSeconds = (performance.now() - produceStart) / 1000;
  const produceCpu = nodePids.length > 0 ? nodeCpuSeconds() - cpuBefore : NaN;
  producing = false;
  const e2eCounted = e2eConsumer ? (await e2eConsumer).consumed : 0;
  const producedBytes = acknowledged * recordBytes;

  const rows: string[][] = [];
  const mbps = (bytes: number, seconds: number) => (bytes / 1e6 / seconds).toFixed(1);
  rows.push([
    'produce',
    Math.round(acknowledged / produceSeconds).toLocaleString('en-US'),
    mbps(producedBytes, produceSeconds),
    percentiles(latencyUs),
    nodePids.length > 0 ? (produceCpu / (producedBytes / 1e9)).toFixed(1) : 'n/a',
  ]);
  if (e2eConsumer) {
    const ms = (p: number) => e2eMs.getValueAtPercentile(p).toLocaleString('en-US');
    rows.push(['end to end (send → receipt), ms', `${e2eCounted.toLocaleString('en-US')} records`, '', `${ms(50)} / ${ms(99)} / ${ms(99.9)} ms`, '']);
  }

  if (!args['skip-consume'] && acks !== 0 && !args.e2e) {
    const cpuBeforeConsume = nodePids.length > 0 ? nodeCpuSeconds() : 0;
    const consumeStart = performance.now();
    const { consumed, consumedBytes } = await consumeUntil((n) => n >= acknowledged, deadlineMs + 60_000);
    const consumeSeconds = (performance.now() - consumeStart) / 1000;
    const consumeCpu = nodePids.length > 0 ? nodeCpuSeconds() - cpuBeforeConsume : NaN;
    rows.push([
      'consume',
      Math.round(consumed / consumeSeconds).toLocaleString('en-US'),
      mbps(consumedBytes, consumeSeconds),
      '',
      nodePids.length > 0 ? (consumeCpu / (consumedBytes / 1e9)).toFixed(1) : 'n/a',
    ]);
  }

  /** Reads every partition from where the warm-up ended (offset 0 without one) through its leader until `isDone(consumed)` (or the deadline). */
  async function consumeUntil(isDone: (consumed: number) => boolean, untilMs: number, e2e?: hdr.Histogram): Promise<{ consumed: number; consumedBytes: number }> {
    const offsets = [...startOffsets];
    let consumed = 0;
    let consumedBytes = 0;
    const byLeader = new Map<Client, number[]>();
    partitionClients.forEach((c, partition) => byLeader.set(c, [...(byLeader.get(c) ?? []), partition]));
    await Promise.all(
      [...byLeader].map(async ([via, owned]) => {
        while (!isDone(consumed) && performance.now() < untilMs) {
          const response = await call<clientApi.FetchRequest, clientApi.FetchResponse>(
            client.fetch,
            {
              maxWaitMs: 100,
              minBytes: 1,
              maxBytes: Number(args['fetch-bytes']),
              topics: [{ name: topic, partitions: owned.map((partition) => ({ partition, fetchOffset: offsets[partition]!, partitionMaxBytes: Number(args['partition-fetch-bytes']), currentLeaderEpoch: -1 })) }],
            },
            via,
          );
          const receivedMs = Date.now();
          for (const p of response.topics[0]!.partitions) {
            if (p.errorCode !== 0) throw new Error(`fetch failed: ${p.errorCode} ${p.errorMessage}`);
            for (const batch of decodeRecordBatchesSync(p.records)) {
              for (const record of batch.records) {
                if (record.offset < offsets[p.partition]!) continue;
                consumed++;
                consumedBytes += record.value?.length ?? 0;
                e2e?.recordValue(Math.max(1, receivedMs - record.timestampMs));
              }
            }
            offsets[p.partition] = p.nextOffset;
          }
        }
      }),
    );
    return { consumed, consumedBytes };
  }

  client.close();
  for (const c of leaderClients.values()) c.close();
  for (const t of leaderTransports.values()) t.close();
  if (cluster) {
    await cluster.cluster.stop();
    rmSync(cluster.baseDir, { recursive: true, force: true });
  }
  if (local) {
    await local.node.stop();
    rmSync(local.dataDir, { recursive: true, force: true });
  }

  console.log(
    `\n${recordCount.toLocaleString('en-US')} records of ${recordBytes} B${warmupRecords > 0 ? ` (after ${warmupRecords.toLocaleString('en-US')} unmeasured)` : ''}, ${partitionCount} partition(s), ${batchRecords} records/batch, ` +
      `${concurrency} in flight, acks=${args.acks}, compression=${compression}, flush=${args.flush}` +
      (cluster ? `, 3 controllers + ${clusterBrokers} brokers, replication factor ${replicationFactor}` : '') +
      '\n',
  );
  console.log('| phase | records/s | MB/s | request latency p50 / p99 / p999 (µs) | node CPU s per GB |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
