import { encodeRecordBatch } from '@rivulet/records';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiKey } from './schema/api-table.js';
import type { MessageValue } from './schema/field.js';
import { RawClient, decodeResponseFrame, encodeRequestFrame } from './testing/raw-client.js';
import { startTestNode, type TestNode } from './testing/test-node.js';

let node: TestNode;
const clients: RawClient[] = [];

async function client(): Promise<RawClient> {
  const c = await RawClient.connect(node.port);
  clients.push(c);
  return c;
}

function fetchBody(topic: string, fetchOffset: number, maxWaitMs: number): MessageValue {
  return { replicaId: -1, maxWaitMs, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics: [{ topic, partitions: [{ partition: 0, fetchOffset, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '' };
}

async function produceBody(topic: string, acks: number): Promise<MessageValue> {
  const records = await encodeRecordBatch({ records: [{ key: null, value: Buffer.from('hello'), timestampMs: Date.now() }] });
  return { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] };
}

beforeEach(async () => {
  node = await startTestNode();
  await node.broker.createTopics([{ name: 'events', partitions: 1, replicationFactor: 1, configs: {} }], false);
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await node.stop();
});

describe('KafkaListener framing and ordering', () => {
  it('answers pipelined requests in order even while a Fetch long-polls ahead of them', async () => {
    const c = await client();
    c.send(encodeRequestFrame(ApiKey.Fetch, 11, 1, fetchBody('events', 0, 1500)));
    c.send(encodeRequestFrame(ApiKey.Metadata, 9, 2, { topics: null, allowAutoTopicCreation: false }));
    c.send(encodeRequestFrame(ApiKey.ApiVersions, 3, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' }));
    const frames = await c.waitForFrames(3);
    expect(frames.map((f) => f.readInt32BE(0))).toEqual([1, 2, 3]);
    const fetched = decodeResponseFrame(ApiKey.Fetch, 11, frames[0]!).body;
    expect(fetched.sessionId).toBe(0);
  });

  it('carries topic ids: Metadata v12 names them and finds a topic by id alone; DeleteTopics v6 deletes by id', async () => {
    const c = await client();
    const topicId = node.broker.topicIdOf('events')!;
    const idBytes = Buffer.from(topicId.replace(/-/g, ''), 'hex');
    c.send(encodeRequestFrame(ApiKey.Metadata, 12, 1, { topics: [{ topicId: Buffer.alloc(16), name: 'events' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }));
    c.send(encodeRequestFrame(ApiKey.Metadata, 12, 2, { topics: [{ topicId: idBytes, name: null }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }));
    const unknownId = Buffer.alloc(16, 7);
    c.send(encodeRequestFrame(ApiKey.Metadata, 12, 3, { topics: [{ topicId: unknownId, name: null }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }));
    const [byName, byId, unknown] = (await c.waitForFrames(3)).map((f) => decodeResponseFrame(ApiKey.Metadata, 12, f).body as { topics: { name: string | null; topicId: Buffer; errorCode: number }[] });
    expect(byName!.topics.map((t) => [t.name, t.topicId.equals(idBytes)])).toEqual([['events', true]]);
    expect(byId!.topics.map((t) => [t.name, t.errorCode])).toEqual([['events', 0]]);
    expect(unknown!.topics.map((t) => [t.name, t.errorCode])).toEqual([[null, 100 /* UNKNOWN_TOPIC_ID */]]);

    c.send(encodeRequestFrame(ApiKey.DeleteTopics, 6, 4, { topics: [{ name: null, topicId: idBytes }, { name: null, topicId: unknownId }], timeoutMs: 5000 }));
    const deleted = decodeResponseFrame(ApiKey.DeleteTopics, 6, (await c.waitForFrames(4))[3]!).body as { responses: { name: string | null; errorCode: number }[] };
    expect(deleted.responses.map((r) => [r.name, r.errorCode])).toEqual([['events', 0], [null, 100]]);
    expect(node.broker.topicIdOf('events')).toBeUndefined();
  });

  it('wakes a parked Fetch when a produce arrives on another connection', async () => {
    const consumer = await client();
    consumer.send(encodeRequestFrame(ApiKey.Fetch, 12, 7, fetchBody('events', 0, 10_000)));
    const producer = await client();
    producer.send(encodeRequestFrame(ApiKey.Produce, 9, 1, await produceBody('events', -1)));
    const [frame] = await consumer.waitForFrames(1, 5000);
    const partition = ((decodeResponseFrame(ApiKey.Fetch, 12, frame!).body.responses as MessageValue[])[0]!.partitions as MessageValue[])[0]!;
    expect(partition.errorCode).toBe(0);
    expect((partition.records as Buffer).length).toBeGreaterThan(0);
  });

  it('sends no response for acks=0 but still answers the next request', async () => {
    const c = await client();
    c.send(encodeRequestFrame(ApiKey.Produce, 7, 1, await produceBody('events', 0)));
    c.send(encodeRequestFrame(ApiKey.ApiVersions, 2, 2, {}));
    const frames = await c.waitForFrames(1);
    expect(frames[0]!.readInt32BE(0)).toBe(2);
    const listed = await node.broker.listOffsets({ topics: [{ name: 'events', partitions: [{ partition: 0, timestamp: -1 }] }] });
    expect(listed.topics[0]!.partitions[0]!.offset).toBe(1);
  });

  it('answers a too-new ApiVersions with UNSUPPORTED_VERSION and the version list, in header v0', async () => {
    const c = await client();
    const frame = Buffer.alloc(4 + 14);
    frame.writeInt32BE(14, 0);
    frame.writeInt16BE(ApiKey.ApiVersions, 4);
    frame.writeInt16BE(99, 6);
    frame.writeInt32BE(42, 8);
    frame.writeInt16BE(-1, 12);
    c.send(frame);
    const [response] = await c.waitForFrames(1);
    const { correlationId, body } = decodeResponseFrame(ApiKey.ApiVersions, 0, response!);
    expect(correlationId).toBe(42);
    expect(body.errorCode).toBe(35);
    const apis = body.apiKeys as MessageValue[];
    expect(apis.find((a) => a.apiKey === ApiKey.Produce)).toEqual({ apiKey: 0, minVersion: 0, maxVersion: 9 });
    expect(apis.every((a) => a.minVersion === 0)).toBe(true);
  });

  it('answers Produce v2 (old message format) with UNSUPPORTED_VERSION per partition', async () => {
    const c = await client();
    c.send(encodeRequestFrame(ApiKey.Produce, 2, 5, await produceBody('events', 1)));
    const [response] = await c.waitForFrames(1);
    const topics = decodeResponseFrame(ApiKey.Produce, 2, response!).body.responses as MessageValue[];
    expect((topics[0]!.partitionResponses as MessageValue[])[0]!.errorCode).toBe(35);
  });

  it('closes only the connection that sent an unknown API key, a truncated body or an oversized frame', async () => {
    const healthy = await client();
    const badFrames = [
      encodeRequestFrame(ApiKey.Metadata, 4, 1, { topics: null }).fill(0x7f, 4, 6),
      encodeRequestFrame(ApiKey.Metadata, 9, 1, { topics: null }).subarray(0, 14),
      Buffer.from([0x7f, 0xff, 0xff, 0xff]),
    ];
    badFrames[1]!.writeInt32BE(10, 0);
    for (const bad of badFrames) {
      const c = await client();
      c.send(bad);
      await c.waitForClose();
      expect(c.isClosed).toBe(true);
    }
    healthy.send(encodeRequestFrame(ApiKey.ApiVersions, 0, 9, {}));
    const [response] = await healthy.waitForFrames(1);
    expect(response!.readInt32BE(0)).toBe(9);
  });

  it('closes an idle connection', async () => {
    await node.stop();
    node = await startTestNode({ idleConnectionMs: 200 });
    const c = await client();
    await c.waitForClose(3000);
    expect(c.isClosed).toBe(true);
  });

  it('bounds in-flight requests: reading pauses, then resumes and answers everything in order', async () => {
    await node.stop();
    node = await startTestNode({ inflightRequestsMax: 2 });
    await node.broker.createTopics([{ name: 'events', partitions: 1, replicationFactor: 1, configs: {} }], false);
    const c = await client();
    for (let i = 0; i < 6; i++) c.send(encodeRequestFrame(ApiKey.Fetch, 11, i, fetchBody('events', 0, 100)));
    const frames = await c.waitForFrames(6, 5000);
    expect(frames.map((f) => f.readInt32BE(0))).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('InitProducerId and idempotent Produce on the wire', () => {
  async function call(c: RawClient, apiKey: number, version: number, correlationId: number, body: MessageValue): Promise<MessageValue> {
    c.send(encodeRequestFrame(apiKey, version, correlationId, body));
    const frames = await c.waitForFrames(correlationId);
    return decodeResponseFrame(apiKey, version, frames[correlationId - 1]!).body;
  }

  async function idempotentProduce(producerId: number, producerEpoch: number, baseSequence: number, value: string): Promise<MessageValue> {
    const records = await encodeRecordBatch({ producerId, producerEpoch, baseSequence, records: [{ key: null, value: Buffer.from(value), timestampMs: Date.now() }] });
    return { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'events', partitionData: [{ index: 0, records }] }] };
  }

  function partitionAnswer(response: MessageValue): { errorCode: number; baseOffset: number } {
    return ((response.responses as MessageValue[])[0]!.partitionResponses as MessageValue[])[0] as unknown as { errorCode: number; baseOffset: number };
  }

  it('gives each call a new producer id with epoch 0 (v1, v3 naming an old id, v5), refuses a transactional id and a half-given id', async () => {
    const c = await client();
    const v1 = await call(c, ApiKey.InitProducerId, 1, 1, { transactionalId: null, transactionTimeoutMs: 60_000 });
    const v3 = await call(c, ApiKey.InitProducerId, 3, 2, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: v1.producerId, producerEpoch: 0 });
    const v5 = await call(c, ApiKey.InitProducerId, 5, 3, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: 0, producerEpoch: 0 });
    for (const answer of [v1, v3, v5]) expect(answer).toMatchObject({ errorCode: 0, producerEpoch: 0 });
    expect(new Set([v1.producerId, v3.producerId, v5.producerId]).size).toBe(3);
    const transactional = await call(c, ApiKey.InitProducerId, 4, 4, { transactionalId: 'tx-1', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    expect(transactional).toMatchObject({ errorCode: 53 /* TRANSACTIONAL_ID_AUTHORIZATION_FAILED */, producerId: -1, producerEpoch: -1 });
    const halfGiven = await call(c, ApiKey.InitProducerId, 3, 5, { transactionalId: null, transactionTimeoutMs: 60_000, producerId: 7, producerEpoch: -1 });
    expect(halfGiven.errorCode).toBe(42 /* INVALID_REQUEST */);
  });

  it('answers a duplicate with the original offset and refuses gaps, old epochs and unknown producers, storing nothing for them', async () => {
    const c = await client();
    const { producerId } = (await call(c, ApiKey.InitProducerId, 1, 1, { transactionalId: null, transactionTimeoutMs: 60_000 })) as { producerId: number };
    expect(partitionAnswer(await call(c, ApiKey.Produce, 7, 2, await idempotentProduce(producerId, 1, 0, 'a')))).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(partitionAnswer(await call(c, ApiKey.Produce, 9, 3, await idempotentProduce(producerId, 1, 1, 'b')))).toMatchObject({ errorCode: 0, baseOffset: 1 });
    expect(partitionAnswer(await call(c, ApiKey.Produce, 9, 4, await idempotentProduce(producerId, 1, 0, 'a')))).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(partitionAnswer(await call(c, ApiKey.Produce, 9, 5, await idempotentProduce(producerId, 1, 3, 'gap'))).errorCode).toBe(45);
    expect(partitionAnswer(await call(c, ApiKey.Produce, 7, 6, await idempotentProduce(producerId, 0, 2, 'old'))).errorCode).toBe(47);
    expect(partitionAnswer(await call(c, ApiKey.Produce, 7, 7, await idempotentProduce(producerId + 1, 0, 4, 'unknown'))).errorCode).toBe(59);
    expect(node.broker.partitionStats().find((s) => s.topic === 'events')!.logEndOffset).toBe(2);
  });

  it('lists InitProducerId 0-5 in ApiVersions', async () => {
    const c = await client();
    const versions = await call(c, ApiKey.ApiVersions, 3, 1, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
    expect((versions.apiKeys as MessageValue[]).find((k) => k.apiKey === ApiKey.InitProducerId)).toEqual({ apiKey: 22, minVersion: 0, maxVersion: 5 });
  });
});
