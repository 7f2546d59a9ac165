import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '@rivulet/common';
import { clientApi } from '@rivulet/proto';
import { decodeRecordBatches, encodeRecordBatch } from '@rivulet/records';
import { startEmbeddedNode, type RunningNode } from '@rivulet/server';
import { ERROR_CODE_TRAILER } from '@rivulet/transport-grpc';

// A node in this process, spoken to over real gRPC on loopback, including with bytes no
// well-behaved client would send.
let node: RunningNode;
let client: clientApi.ClientApiClient;

function call<Req, Res>(method: (req: Req, cb: (err: ServiceError | null, res: Res) => void) => unknown, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => method.call(client, request, (err, res) => (err ? reject(err) : resolve(res))));
}

/** The answers a bidirectional stream sends; `done` settles once `count` have come (or the stream fails). */
function collectAnswers<T>(stream: NodeJS.EventEmitter, count: number): { answers: T[]; done: Promise<void> } {
  const answers: T[] = [];
  const done = new Promise<void>((resolve, reject) => {
    stream.on('data', (answer: T) => {
      answers.push(answer);
      if (answers.length === count) resolve();
    });
    stream.on('error', reject);
  });
  return { answers, done };
}

beforeAll(async () => {
  node = await startEmbeddedNode({ autoCreateTopics: false });
  client = new clientApi.ClientApiClient(node.grpcAddress, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await node?.stop();
});

describe('gRPC client API', () => {
  it('creates a topic, produces and fetches over gRPC', async () => {
    const created = await call<clientApi.CreateTopicsRequest, clientApi.CreateTopicsResponse>(client.createTopics, { topics: [{ name: 'g', partitions: 2, replicationFactor: 1, configs: {} }], validateOnly: false });
    expect(created.results[0]!.errorCode).toBe(0);
    const records = await encodeRecordBatch({ records: [{ key: Buffer.from('k'), value: Buffer.from('v') }] });
    const produced = await call<clientApi.ProduceRequest, clientApi.ProduceResponse>(client.produce, { acks: -1, timeoutMs: 1000, topics: [{ name: 'g', partitions: [{ partition: 1, records }] }] });
    expect(produced.topics[0]!.partitions[0]).toMatchObject({ errorCode: 0, baseOffset: 0 });
    const fetched = await call<clientApi.FetchRequest, clientApi.FetchResponse>(client.fetch, {
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ name: 'g', partitions: [{ partition: 1, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }],
    });
    expect(fetched.topics[0]!.partitions[0]!.records.length).toBe(records.length);
    expect(fetched.topics[0]!.partitions[0]!.nextOffset).toBe(1);
  });

  it('answers a malformed protobuf with INVALID_REQUEST and keeps serving', async () => {
    const raw = client as unknown as {
      makeUnaryRequest(path: string, serialize: (b: Buffer) => Buffer, deserialize: (b: Buffer) => unknown, req: Buffer, cb: (err: ServiceError | null) => void): void;
    };
    const err = await new Promise<ServiceError | null>((resolve) =>
      raw.makeUnaryRequest('/rivulet.client.v1.ClientApi/Produce', (b) => b, (b) => b, Buffer.from([0x1a, 0xff, 0xff, 0xff, 0x0f, 0x01]), resolve),
    );
    expect(err).not.toBeNull();
    expect(err!.metadata.get(ERROR_CODE_TRAILER)[0]).toBe(String(ErrorCode.INVALID_REQUEST));
    expect(err!.details).toMatch(/malformed produce request/);
    const metadata = await call<clientApi.MetadataRequest, clientApi.MetadataResponse>(client.getMetadata, { topics: [], allowAutoTopicCreation: false });
    expect(metadata.topics.map((t) => t.name)).toContain('g');
  });

  it('answers pipelined ProduceStream requests in order, a refused one with its error, and keeps the stream', async () => {
    await call<clientApi.CreateTopicsRequest, clientApi.CreateTopicsResponse>(client.createTopics, { topics: [{ name: 'ps', partitions: 1, replicationFactor: 1, configs: {} }], validateOnly: false });
    const stream = client.produceStream();
    const { answers, done } = collectAnswers<clientApi.ProduceStreamResponse>(stream, 5);
    const records = await encodeRecordBatch({ records: [{ key: null, value: Buffer.from('v') }, { key: null, value: Buffer.from('w') }] });
    // All five written before any answer: acks 1 and -1 mixed, one invalid acks value in the middle.
    for (const acks of [1, -1, 7, 1, -1]) stream.write({ acks, timeoutMs: 5000, topics: [{ name: 'ps', partitions: [{ partition: 0, records }] }] });
    await done;
    stream.end();
    expect(answers.map((a) => a.errorCode)).toEqual([0, 0, ErrorCode.INVALID_REQUIRED_ACKS, 0, 0]);
    expect(answers[2]!.errorMessage).toMatch(/acks must be 0, 1 or -1/);
    expect(answers.filter((a) => a.errorCode === 0).map((a) => a.response!.topics[0]!.partitions[0]!.baseOffset)).toEqual([0, 2, 4, 6]);
  });

  it('answers pipelined OffsetCommitStream requests in order, each with its own partition errors', async () => {
    await call<clientApi.CreateTopicsRequest, clientApi.CreateTopicsResponse>(client.createTopics, { topics: [{ name: 'cs', partitions: 2, replicationFactor: 1, configs: {} }], validateOnly: false });
    const commit = (groupId: string, topic: string, committedOffset: number): clientApi.OffsetCommitRequest => ({
      groupId,
      generationId: -1,
      memberId: '',
      groupInstanceId: '',
      retentionTimeMs: -1,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset, committedLeaderEpoch: -1, committedMetadata: 'm' }] }],
    });
    // The first FindCoordinator creates __consumer_offsets; the coordinator answers once it has loaded its partition.
    await vi.waitFor(async () => {
      expect((await call<clientApi.FindCoordinatorRequest, clientApi.FindCoordinatorResponse>(client.findCoordinator, { groupId: 'cs-0' })).errorCode).toBe(0);
      const first = await call<clientApi.OffsetCommitRequest, clientApi.OffsetCommitResponse>(client.offsetCommit, commit('cs-0', 'cs', 1));
      expect(first.topics[0]!.partitions[0]!.errorCode).toBe(0);
    }, { timeout: 10_000, interval: 50 });

    const stream = client.offsetCommitStream();
    const { answers, done } = collectAnswers<clientApi.OffsetCommitStreamResponse>(stream, 4);
    // All four written before any answer; the third names a topic that does not exist.
    stream.write(commit('cs-1', 'cs', 10));
    stream.write(commit('cs-2', 'cs', 20));
    stream.write(commit('cs-1', 'no-such-topic', 30));
    stream.write(commit('cs-1', 'cs', 11));
    await done;
    stream.end();
    expect(answers.map((a) => [a.errorCode, a.response!.topics[0]!.name, a.response!.topics[0]!.partitions[0]!.errorCode])).toEqual([
      [0, 'cs', 0],
      [0, 'cs', 0],
      [0, 'no-such-topic', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      [0, 'cs', 0],
    ]);
    const fetched = await call<clientApi.OffsetFetchRequest, clientApi.OffsetFetchResponse>(client.offsetFetch, { groupId: 'cs-1', topics: [], requireStable: false });
    expect(fetched.topics).toEqual([{ name: 'cs', partitions: [expect.objectContaining({ partitionIndex: 0, committedOffset: 11, metadata: 'm', errorCode: 0 })] }]);
  });

  it('streams batches to a FetchStream subscriber as they are produced', async () => {
    await call<clientApi.CreateTopicsRequest, clientApi.CreateTopicsResponse>(client.createTopics, {
      topics: [{ name: 'stream', partitions: 1, replicationFactor: 1, configs: {} }],
      validateOnly: false,
    });
    const stream = client.fetchStream({
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 1 << 20,
      topics: [{ name: 'stream', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 }] }],
    });
    const received: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (response: clientApi.FetchResponse) => {
        const p = response.topics[0]!.partitions[0]!;
        expect(p.errorCode).toBe(0);
        void decodeRecordBatches(p.records).then((batches) => {
          for (const batch of batches) for (const r of batch.records) received.push(r.value!.toString());
          if (received.length === 3) resolve();
        }, reject);
      });
      stream.on('error', (err: ServiceError) => {
        if (err.code !== status.CANCELLED) reject(err);
      });
    });
    for (const value of ['one', 'two', 'three']) {
      const records = await encodeRecordBatch({ records: [{ key: null, value: Buffer.from(value) }] });
      await call<clientApi.ProduceRequest, clientApi.ProduceResponse>(client.produce, { acks: 1, timeoutMs: 1000, topics: [{ name: 'stream', partitions: [{ partition: 0, records }] }] });
    }
    await done;
    stream.cancel();
    expect(received).toEqual(['one', 'two', 'three']);
  });

  it('describes the cluster', async () => {
    const cluster = await call<clientApi.DescribeClusterRequest, clientApi.DescribeClusterResponse>(client.describeCluster, {});
    expect(cluster.self!.nodeId).toBe(1);
    expect(cluster.brokers[0]!.grpcPort).toBe(Number(node.grpcAddress.split(':')[1]));
  });
});

describe('HTTP listener', () => {
  it('serves health, readiness and Prometheus metrics', async () => {
    const withHttp = await startEmbeddedNode({ httpPort: 0 });
    try {
      const base = `http://${withHttp.httpAddress}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const c = new clientApi.ClientApiClient(withHttp.grpcAddress, credentials.createInsecure());
      await new Promise((resolve) => c.getMetadata({ topics: [], allowAutoTopicCreation: false }, resolve));
      c.close();
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/rivulet_requests_total\{api="metadata",outcome="ok"\} 1/);
      expect(metrics).toMatch(/rivulet_request_duration_seconds_bucket/);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      await withHttp.stop();
    }
  });
});
