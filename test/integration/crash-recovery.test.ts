import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { SeededRandom } from '@rivulet/common';
import { clientApi } from '@rivulet/proto';
import { decodeRecordBatches, encodeRecordBatchSync } from '@rivulet/records';
import { NodeProcess } from '@rivulet/testkit';

// kill -9 of a node while producers run, then a restart: every acknowledged record must be
// at its acknowledged offset, offsets must stay dense, and no batch may be torn. Records
// that were in flight at the kill may or may not be there; nothing else may.

const PARTITIONS = 4;
const PRODUCERS = 4;
const RECORDS_PER_BATCH = 20;
const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);

interface Acked {
  partition: number;
  baseOffset: number;
  values: string[];
}

type Unary<Req, Res> = (req: Req, cb: (err: ServiceError | null, res: Res) => void) => unknown;

function connect(address: string) {
  const client = new clientApi.ClientApiClient(address, credentials.createInsecure());
  const call = <Req, Res>(method: Unary<Req, Res>, request: Req): Promise<Res> =>
    new Promise((resolve, reject) => method.call(client, request, (err, res) => (err ? reject(err) : resolve(res))));
  return {
    close: () => client.close(),
    createTopic: (name: string) =>
      call<clientApi.CreateTopicsRequest, clientApi.CreateTopicsResponse>(client.createTopics, { topics: [{ name, partitions: PARTITIONS, replicationFactor: 1, configs: {} }], validateOnly: false }),
    produce: (request: clientApi.ProduceRequest) => call<clientApi.ProduceRequest, clientApi.ProduceResponse>(client.produce, request),
    fetch: (request: clientApi.FetchRequest) => call<clientApi.FetchRequest, clientApi.FetchResponse>(client.fetch, request),
  };
}

/** Produces until the node dies; returns what was acknowledged. */
async function produceUntilKilled(api: ReturnType<typeof connect>, round: number, acked: Acked[]): Promise<void> {
  let sequence = 0;
  const producer = async (producerId: number): Promise<void> => {
    for (;;) {
      const partition = (producerId + sequence) % PARTITIONS;
      const values = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => `r${round}-p${producerId}-s${sequence}-${i}`);
      sequence++;
      const records = encodeRecordBatchSync({ records: values.map((v) => ({ key: null, value: Buffer.from(v) })) });
      try {
        const response = await api.produce({ acks: 1, timeoutMs: 5000, topics: [{ name: 'crash', partitions: [{ partition, records }] }] });
        const result = response.topics[0]!.partitions[0]!;
        if (result.errorCode === 0) acked.push({ partition, baseOffset: result.baseOffset, values });
      } catch {
        return; // The node is gone.
      }
    }
  };
  await Promise.all(Array.from({ length: PRODUCERS }, (_, id) => producer(id)));
}

async function readAll(api: ReturnType<typeof connect>): Promise<Map<number, { offset: number; value: string }[]>> {
  const byPartition = new Map<number, { offset: number; value: string }[]>();
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const records: { offset: number; value: string }[] = [];
    let fetchOffset = 0;
    for (;;) {
      const response = await api.fetch({ maxWaitMs: 0, minBytes: 1, maxBytes: 4 << 20, topics: [{ name: 'crash', partitions: [{ partition, fetchOffset, partitionMaxBytes: 4 << 20, currentLeaderEpoch: -1 }] }] });
      const p = response.topics[0]!.partitions[0]!;
      expect(p.errorCode).toBe(0);
      if (p.records.length === 0) break;
      // Decoding checks every batch's CRC and framing: a torn batch fails here.
      for (const batch of await decodeRecordBatches(p.records)) {
        for (const r of batch.records) if (r.offset >= fetchOffset) records.push({ offset: r.offset, value: r.value!.toString() });
      }
      fetchOffset = p.nextOffset;
    }
    byPartition.set(partition, records);
  }
  return byPartition;
}

let dataDir: string | undefined;
let node: NodeProcess | undefined;

// Each test has its own node and directory, and the node is killed after it whatever
// happened, so no process outlives its test.
afterEach(async () => {
  await node?.kill();
  node = undefined;
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

describe.each(['os', 'always'])('kill -9 during produce, flush policy %s', (flushPolicy) => {
  it(`keeps every acknowledged record (seed ${seed})`, async () => {
    const random = new SeededRandom(seed);
    dataDir = await mkdtemp(join(tmpdir(), 'rivulet-crash-'));
    node = new NodeProcess({ dataDir, args: ['--flush-policy', flushPolicy, '--auto-create-topics', 'false'] });
    await node.start();
    let api = connect(node.grpcAddress);
    expect((await api.createTopic('crash')).results[0]!.errorCode).toBe(0);
    const acked: Acked[] = [];
    for (let round = 0; round < 3; round++) {
      const producing = produceUntilKilled(api, round, acked);
      await new Promise((resolve) => setTimeout(resolve, 200 + random.nextInt(600)));
      await node.kill();
      await producing;
      api.close();
      await node.start();
      api = connect(node.grpcAddress);
    }
    const stored = await readAll(api);
    api.close();
    expect(acked.length).toBeGreaterThan(0);
    for (const [, records] of stored) {
      records.forEach((r, i) => expect(r.offset, 'offsets are dense from 0').toBe(i));
    }
    for (const batch of acked) {
      const records = stored.get(batch.partition)!;
      batch.values.forEach((value, i) => expect(records[batch.baseOffset + i]?.value, `acknowledged record ${value}`).toBe(value));
    }
  });
});
