import { afterEach, describe, expect, it } from 'vitest';
import { raft } from '@rivulet/proto';
import { GrpcServer } from './server.js';
import { RaftPeerTransport, raftServiceHandlers } from './raft-peer-transport.js';

// The peer transport against a real gRPC server on loopback: delivery in order, drops
// (bounded) while the peer is down, and delivery again once the peer is back on its port.

const heartbeat = (from: number, to: number, commitIndex: number): raft.RaftMessage => ({
  from,
  to,
  term: 1,
  body: { $case: 'heartbeat', heartbeat: { commitIndex, readContext: 0 } },
});

async function waitUntil(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function startPeer(port: number, received: raft.RaftMessage[]): Promise<GrpcServer> {
  const server = new GrpcServer({ host: '127.0.0.1', port, maxReceiveMessageBytes: 64 << 20, maxSendMessageBytes: 1 << 20 });
  server.addService(raft.RaftServiceService, raftServiceHandlers((messages) => received.push(...messages)));
  await server.listen();
  return server;
}

let server: GrpcServer | undefined;
let transport: RaftPeerTransport | undefined;
afterEach(async () => {
  transport?.close();
  await server?.stop(0);
  server = undefined;
  transport = undefined;
});

describe('RaftPeerTransport', () => {
  it('delivers messages in order, batched', async () => {
    const received: raft.RaftMessage[] = [];
    server = await startPeer(0, received);
    transport = new RaftPeerTransport({ peers: [{ id: 2, address: `127.0.0.1:${server.port}` }] });
    for (let i = 1; i <= 200; i++) expect(transport.send(heartbeat(1, 2, i))).toBe(true);
    await waitUntil('200 messages', () => received.length === 200 && transport!.stats()[0]!.sentMessages === 200);
    expect(received.map((m) => (m.body?.$case === 'heartbeat' ? m.body.heartbeat.commitIndex : -1))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(transport.stats()[0]).toMatchObject({ peerId: 2, sentMessages: 200, droppedQueueFullMessages: 0, queuedMessages: 0 });
  });

  it('drops (and counts) messages for a peer that is down, and reaches it again after it restarts', async () => {
    const received: raft.RaftMessage[] = [];
    server = await startPeer(0, received);
    const port = server.port;
    await server.stop(0);
    server = undefined;
    transport = new RaftPeerTransport({ peers: [{ id: 2, address: `127.0.0.1:${port}` }], queueMessagesMax: 8, callDeadlineMs: 500 });
    let accepted = 0;
    for (let i = 0; i < 100; i++) if (transport.send(heartbeat(1, 2, i))) accepted++;
    // One batch can be in flight; the rest of the queue holds at most 8.
    expect(accepted).toBeLessThanOrEqual(9);
    expect(transport.stats()[0]!.droppedQueueFullMessages).toBeGreaterThanOrEqual(91);
    await waitUntil('the failed calls to be counted', () => transport!.stats()[0]!.queuedMessages === 0 && transport!.stats()[0]!.failedCalls > 0);
    expect(received).toEqual([]);

    server = await startPeer(port, received);
    // Keep sending as a leader's heartbeats would; the channel reconnects within its back-off.
    await waitUntil('delivery after the restart', () => {
      transport!.send(heartbeat(1, 2, 1000));
      return received.length > 0;
    });
    expect(transport.stats()[0]!.connected).toBe(true);
  });
});
