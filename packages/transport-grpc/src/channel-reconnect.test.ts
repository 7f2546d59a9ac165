import { createServer, type Server, type Socket } from 'node:net';
import { ErrorCode } from '@rivulet/common';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicaChannel } from './replica-channel.js';

let listener: Server | undefined;
let channel: ReplicaChannel | undefined;
afterEach(async () => {
  channel?.close();
  channel = undefined;
  await new Promise<void>((resolve) => (listener ? listener.close(() => resolve()) : resolve()));
  listener = undefined;
});

const request = { replicaId: 1, brokerEpoch: 1, maxWaitMs: 0, minBytes: 1, maxBytes: 1024, partitions: [] };

describe('Rivulet channels (CLIENT_CHANNEL_OPTIONS)', () => {
  it('try a broker that keeps failing again at least once a second, as Kafka clients do', async () => {
    // A listener that drops every connection at once: each is one failed attempt of the
    // channel. grpc-js's default back-off (1 s, then 1.6 s, 2.6 s, 4.1 s, ...) makes at most
    // four attempts in these 5 s; Kafka's (and ours: 100 ms growing to 1 s) at least seven.
    let attempts = 0;
    listener = createServer((socket: Socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener!.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as { port: number };
    channel = new ReplicaChannel(`127.0.0.1:${port}`);
    const endAtMs = Date.now() + 5_000;
    while (Date.now() < endAtMs) {
      // Calls keep the channel wanting a connection; each fails (fast, or on its own attempt).
      await expect(channel.replicaFetch(request, 1_000)).rejects.toMatchObject({ code: ErrorCode.NETWORK_EXCEPTION });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(attempts).toBeGreaterThanOrEqual(6);
  });
});
