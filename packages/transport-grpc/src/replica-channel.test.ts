import { connect } from 'node:http2';
import { ErrorCode, RivuletError } from '@rivulet/common';
import { replicationApi } from '@rivulet/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicaChannel } from './replica-channel.js';
import { GrpcServer } from './server.js';

let server: GrpcServer | undefined;
let channel: ReplicaChannel | undefined;
afterEach(async () => {
  channel?.close();
  channel = undefined;
  await server?.stop(0);
  server = undefined;
});

const request = (replicaId: number, maxWaitMs = 0): replicationApi.ReplicaFetchRequest => ({ replicaId, brokerEpoch: 1, maxWaitMs, minBytes: 1, maxBytes: 1024, partitions: [] });
const answer = (topic: string): replicationApi.ReplicaFetchResponse => ({
  partitions: [{ topic, partition: 0, errorCode: 0, errorMessage: '', highWatermark: 0, logStartOffset: 0, logEndOffset: 0, records: Buffer.alloc(0) }],
});

/** A ReplicaService whose fetch handler answers as `respond` says; counts the streams opened. */
async function startServer(respond: (request: replicationApi.ReplicaFetchRequest) => Promise<replicationApi.ReplicaFetchResponse>) {
  const streams = { opened: 0 };
  server = new GrpcServer({ host: '127.0.0.1', port: 0, maxReceiveMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20 });
  server.addService(replicationApi.ReplicaServiceService, {
    replicaFetch: async (requests, write) => {
      streams.opened++;
      for await (const r of requests) await write(await respond(r));
    },
    offsetForLeaderEpoch: () => Promise.resolve({ partitions: [] }),
  });
  const port = await server.listen();
  return { address: `127.0.0.1:${port}`, streams };
}

describe('ReplicaChannel', () => {
  it('carries many fetches, answered in order, on one stream', async () => {
    const { address, streams } = await startServer((r) => Promise.resolve(answer(`t${r.replicaId}`)));
    channel = new ReplicaChannel(address);
    for (let i = 0; i < 50; i++) {
      const response = await channel.replicaFetch(request(i), 5_000);
      expect(response.partitions[0]!.topic).toBe(`t${i}`);
    }
    expect(streams.opened).toBe(1);
  });

  it('fails the fetch the leader refuses with its typed error, then opens a new stream', async () => {
    const { address, streams } = await startServer((r) =>
      r.replicaId === 7 ? Promise.reject(new RivuletError('STALE_BROKER_EPOCH', 'broker 7 fetched with an old epoch')) : Promise.resolve(answer('ok')),
    );
    channel = new ReplicaChannel(address);
    await channel.replicaFetch(request(1), 5_000);
    const refused = await channel.replicaFetch(request(7), 5_000).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RivuletError);
    expect((refused as RivuletError).code).toBe(ErrorCode.STALE_BROKER_EPOCH);
    expect((await channel.replicaFetch(request(2), 5_000)).partitions[0]!.topic).toBe('ok');
    expect(streams.opened).toBe(2);
  });

  it('times a fetch out when no answer comes, and the stream after it works', async () => {
    const { address } = await startServer((r) => (r.replicaId === 9 ? new Promise(() => undefined) : Promise.resolve(answer('late'))));
    channel = new ReplicaChannel(address);
    await expect(channel.replicaFetch(request(9), 200)).rejects.toMatchObject({ code: ErrorCode.REQUEST_TIMED_OUT });
    expect((await channel.replicaFetch(request(1), 5_000)).partitions[0]!.topic).toBe('late');
  });

  it('refuses a second fetch while one is in flight (the fetcher sends one at a time)', async () => {
    const { address } = await startServer(() => new Promise((resolve) => setTimeout(() => resolve(answer('slow')), 100)));
    channel = new ReplicaChannel(address);
    const first = channel.replicaFetch(request(1), 5_000);
    await expect(channel.replicaFetch(request(2), 5_000)).rejects.toMatchObject({ code: ErrorCode.THROTTLING_QUOTA_EXCEEDED });
    expect((await first).partitions[0]!.topic).toBe('slow');
  });

  it('reports an unreachable leader as NETWORK_EXCEPTION', async () => {
    // A port that was just free: nothing listens there.
    const { address } = await startServer(() => Promise.resolve(answer('x')));
    await server!.stop(0);
    server = undefined;
    channel = new ReplicaChannel(address);
    await expect(channel.replicaFetch(request(1), 5_000)).rejects.toMatchObject({ code: ErrorCode.NETWORK_EXCEPTION });
  });

  it('answers a malformed message on the stream with INVALID_REQUEST and keeps serving', async () => {
    const { address, streams } = await startServer(() => Promise.resolve(answer('fine')));
    // Raw HTTP/2: a gRPC frame whose protobuf is garbage (field 1 with wire type 7).
    const session = connect(`http://${address}`);
    session.on('error', () => undefined);
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/rivulet.replication.v1.ReplicaService/ReplicaFetch', 'content-type': 'application/grpc', te: 'trailers' });
      const garbage = Buffer.from([0x0f, 0xff, 0xff]);
      const frame = Buffer.alloc(5 + garbage.length);
      frame.writeUInt32BE(garbage.length, 1);
      garbage.copy(frame, 5);
      stream.end(frame);
      // The status comes in trailers, or in the headers of a trailers-only response.
      const trailers = await new Promise<Record<string, unknown>>((resolve) => {
        stream.on('response', (headers) => {
          if (headers['grpc-status'] !== undefined) resolve(headers);
        });
        stream.on('trailers', resolve);
        stream.resume();
      });
      expect(String(trailers['grpc-status'])).toBe('3'); // INVALID_ARGUMENT
      expect(String(trailers['rivulet-error-code'])).toBe(String(ErrorCode.INVALID_REQUEST));
    } finally {
      session.close();
    }
    channel = new ReplicaChannel(address);
    expect((await channel.replicaFetch(request(1), 5_000)).partitions[0]!.topic).toBe('fine');
    expect(streams.opened).toBe(2);
  });
});
