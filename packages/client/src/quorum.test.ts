import { createServer } from 'node:net';
import { RivuletError } from '@rivulet/common';
import { controllerApi } from '@rivulet/proto';
import { GrpcServer, type ServiceHandlers } from '@rivulet/transport-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import { describeQuorum, summarizeQuorum, type QuorumView } from './quorum.js';

function view(overrides: Partial<QuorumView>): QuorumView {
  return {
    nodeId: 1,
    leaderId: 1,
    term: 1,
    commitIndex: 0,
    appliedIndex: 0,
    role: 'follower',
    members: [],
    brokers: [],
    topicCount: 0,
    partitionCount: 0,
    offlinePartitionCount: 0,
    underReplicatedPartitionCount: 0,
    ...overrides,
  };
}

describe('summarizeQuorum', () => {
  it('picks the leader as the active controller and measures every member against its commit index', () => {
    const summary = summarizeQuorum([
      { nodeId: 3, address: 'c:3', view: view({ nodeId: 3, leaderId: 2, term: 4, commitIndex: 90, appliedIndex: 88 }) },
      { nodeId: 2, address: 'c:2', view: view({ nodeId: 2, leaderId: 2, term: 4, role: 'leader', commitIndex: 100, appliedIndex: 99 }) },
      { nodeId: 1, address: 'c:1', error: 'NETWORK_EXCEPTION: refused' },
    ]);
    expect(summary.active?.nodeId).toBe(2);
    expect(summary.controllers.map((c) => [c.nodeId, c.reachable, c.reachable ? c.lag : c.error])).toEqual([
      [1, false, 'NETWORK_EXCEPTION: refused'],
      [2, true, 1],
      [3, true, 12],
    ]);
  });

  it('prefers the leader of the highest term when a deposed leader still answers as one', () => {
    const summary = summarizeQuorum([
      { nodeId: 1, address: 'c:1', view: view({ nodeId: 1, role: 'leader', term: 3, commitIndex: 50 }) },
      { nodeId: 2, address: 'c:2', view: view({ nodeId: 2, role: 'leader', term: 5, commitIndex: 60, appliedIndex: 60 }) },
    ]);
    expect(summary.active?.nodeId).toBe(2);
    expect(summary.controllers.map((c) => (c.reachable ? c.lag : null))).toEqual([60, 0]);
  });

  it('reports no lag when no leader answered', () => {
    const summary = summarizeQuorum([{ nodeId: 1, address: 'c:1', view: view({ role: 'candidate', leaderId: -1 }) }]);
    expect(summary.active).toBeUndefined();
    expect(summary.controllers[0]).toMatchObject({ reachable: true, lag: null });
  });
});

describe('describeQuorum over gRPC', () => {
  let server: GrpcServer | undefined;
  afterEach(async () => {
    await server?.stop(0);
    server = undefined;
  });

  function closedPort(): Promise<number> {
    return new Promise((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
  }

  it('asks every member and reports one that refuses connections as unreachable', async () => {
    server = new GrpcServer({ host: '127.0.0.1', port: 0, maxReceiveMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20 });
    // Only DescribeQuorum is served; every other method refuses.
    const refuse = (): Promise<never> => Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'not served by this fake'));
    const handlers = {
      ...Object.fromEntries(Object.keys(controllerApi.ControllerServiceService).map((name) => [name, refuse])),
      describeQuorum: () =>
        Promise.resolve({
          nodeId: 1001,
          leaderId: 1001,
          term: 7,
          commitIndex: 42,
          appliedIndex: 41,
          role: 'leader',
          members: [{ nodeId: 1001, address: '127.0.0.1:1' }],
          brokers: [{ brokerId: 1, brokerEpoch: 9, state: 'unfenced', rack: '', endpoints: [{ name: 'grpc', host: '127.0.0.1', port: 5 }], lastHeartbeatAgeMs: 120 }],
          topicCount: 1,
          partitionCount: 3,
          offlinePartitionCount: 0,
          underReplicatedPartitionCount: 1,
        }),
    };
    server.addService(controllerApi.ControllerServiceService, handlers as unknown as ServiceHandlers<typeof controllerApi.ControllerServiceService>);
    const port = await server.listen();
    const deadPort = await closedPort();
    const quorum = await describeQuorum(
      [
        { nodeId: 1002, address: `127.0.0.1:${deadPort}` },
        { nodeId: 1001, address: `127.0.0.1:${port}` },
      ],
      2000,
    );
    expect(quorum.active).toMatchObject({ nodeId: 1001, term: 7, underReplicatedPartitionCount: 1 });
    expect(quorum.active?.brokers).toEqual([{ brokerId: 1, brokerEpoch: 9, state: 'unfenced', rack: '', endpoints: [{ name: 'grpc', host: '127.0.0.1', port: 5 }], lastHeartbeatAgeMs: 120 }]);
    const [alive, dead] = quorum.controllers;
    expect(alive).toMatchObject({ nodeId: 1001, reachable: true, lag: 1 });
    expect(dead).toMatchObject({ nodeId: 1002, reachable: false });
    expect(dead!.reachable ? '' : dead!.error).toContain('NETWORK_EXCEPTION');
  });

  it('refuses an empty controller list', async () => {
    await expect(describeQuorum([], 1000)).rejects.toThrow(/no controllers/);
  });
});
