import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcBrokerTransport, RivuletClient } from '@rivulet/client';
import { encodeRecordBatch } from '@rivulet/records';
import { ErrorCode, RivuletError } from '@rivulet/common';
import { ControllerChannel } from '@rivulet/transport-grpc';
import { LocalCluster, waitFor } from '@rivulet/testkit';

// Three controllers and three brokers as separate `rivulet start` processes on loopback,
// each with its own data directory; broker 3 reaches the quorum through proxies so it can be
// cut off. Default timings: 2 s broker session, 500 ms heartbeats.

const TOPIC_PARTITIONS = 6;
/** Session timeout plus the controller's lease check and a metadata round trip, with slack for a loaded machine. */
const MOVE_DEADLINE_MS = 6_000;

describe('a cluster of 3 controllers and 3 brokers as real processes', () => {
  let baseDir = '';
  let cluster: LocalCluster;
  let client: RivuletClient;
  let channel: ControllerChannel;

  beforeAll(async () => {
    baseDir = await mkdtemp(join(tmpdir(), 'rivulet-cluster-'));
    cluster = await LocalCluster.start({ baseDir, controllers: 3, brokers: 3, controllerProxies: true });
    client = new RivuletClient({ bootstrap: cluster.bootstrap(), requestTimeoutMs: 10_000 });
    channel = new ControllerChannel({ controllers: cluster.controllers().map((n) => ({ id: n.id, address: n.grpcAddress })) });
  }, 60_000);

  afterAll(async () => {
    channel?.close();
    await client?.close();
    await cluster?.stop();
    if (baseDir !== '') await rm(baseDir, { recursive: true, force: true });
  });

  async function partitions(topic: string, via = client) {
    const metadata = await via.admin().metadata([topic]);
    return metadata.topics.find((t) => t.name === topic)!.partitions;
  }

  async function brokerState(brokerId: number): Promise<string | undefined> {
    const active = await waitFor('an active controller', async () => {
      for (const node of cluster.controllers()) {
        if (node.pid === undefined) continue;
        const quorum = await channel.describeQuorum(node.id, 2000).catch(() => undefined);
        if (quorum?.role === 'leader') return quorum;
      }
      return undefined;
    });
    return active.brokers.find((b) => b.brokerId === brokerId)?.state;
  }

  it('places replicas and leaders evenly, and serves produce only on the leader', async () => {
    await client.admin().createTopics([{ name: 'spread', partitions: TOPIC_PARTITIONS, replicationFactor: 3 }]);
    const placed = await partitions('spread');
    expect(placed).toHaveLength(TOPIC_PARTITIONS);
    for (const id of [1, 2, 3]) expect(placed.filter((p) => p.leaderId === id)).toHaveLength(2);
    for (const p of placed) expect([...p.replicas].sort()).toEqual([1, 2, 3]);
    const producer = client.producer({ lingerMs: 0 });
    for (const p of placed) {
      const sent = await producer.send({ topic: 'spread', partition: p.partition, value: Buffer.from(`p${p.partition}`) });
      expect(sent.offset).toBe(0);
    }
    await producer.close();
    // A topic that cannot be placed is refused, and nothing is created.
    await expect(client.admin().createTopics([{ name: 'rf4', partitions: 1, replicationFactor: 4 }])).rejects.toMatchObject({
      code: ErrorCode.INVALID_REPLICATION_FACTOR,
    });
    expect((await client.admin().metadata()).topics.map((t) => t.name)).not.toContain('rf4');
  });

  it('moves the leaderships of a broker killed with SIGKILL within the session timeout; restarted, it rejoins unfenced', async () => {
    await client.admin().createTopics([{ name: 'killed', partitions: TOPIC_PARTITIONS, replicationFactor: 3 }]);
    expect((await partitions('killed')).some((p) => p.leaderId === 2)).toBe(true);
    const killedAt = Date.now();
    await cluster.node(2).kill();
    const moved = await waitFor('no partition led by broker 2', async () => {
      const now = await partitions('killed');
      return now.every((p) => p.leaderId !== 2 && p.leaderId >= 0 && !p.isr.includes(2)) ? now : undefined;
    }, MOVE_DEADLINE_MS);
    expect(Date.now() - killedAt).toBeLessThan(MOVE_DEADLINE_MS);
    expect(moved.every((p) => p.isr.length === 2)).toBe(true);
    expect(await brokerState(2)).toBe('fenced');
    await cluster.node(2).start();
    expect(await brokerState(2)).toBe('unfenced');
    const metadata = await client.admin().metadata();
    expect(metadata.brokers.map((b) => b.nodeId).sort()).toEqual([1, 2, 3]);
  }, 30_000);

  it('keeps working when the active controller is killed with SIGKILL', async () => {
    const leaderId = await waitFor('a controller leader', async () => {
      const answers = await Promise.all(cluster.controllers().map((n) => channel.describeQuorum(n.id, 2000).catch(() => undefined)));
      return answers.find((a) => a?.role === 'leader')?.nodeId;
    });
    await cluster.node(leaderId).kill();
    // Writes go through the new active controller; brokers keep their leases.
    await waitFor('a new controller leader', async () => {
      const answers = await Promise.all(cluster.controllers().filter((n) => n.id !== leaderId).map((n) => channel.describeQuorum(n.id, 2000).catch(() => undefined)));
      return answers.find((a) => a?.role === 'leader' && a.nodeId !== leaderId);
    }, 5_000);
    await client.admin().createTopics([{ name: 'after-failover', partitions: 3, replicationFactor: 3 }]);
    const producer = client.producer({ lingerMs: 0 });
    for (const p of await partitions('after-failover')) {
      expect((await producer.send({ topic: 'after-failover', partition: p.partition, value: Buffer.from('v') })).offset).toBe(0);
    }
    await producer.close();
    for (const id of [1, 2, 3]) expect(await brokerState(id)).toBe('unfenced');
    await cluster.node(leaderId).start();
  }, 30_000);

  it('fences a broker cut off from the controllers: it stops leading and its partitions get new leaders', async () => {
    await client.admin().createTopics([{ name: 'cut', partitions: TOPIC_PARTITIONS, replicationFactor: 3 }]);
    const before = await partitions('cut');
    const led = before.filter((p) => p.leaderId === 3).map((p) => p.partition);
    expect(led.length).toBeGreaterThan(0);
    try {
      cluster.node(3).cutFromControllers(true);
      await waitFor('new leaders for broker 3\'s partitions', async () => {
        const now = await partitions('cut');
        return led.every((partition) => now[partition]!.leaderId !== 3 && now[partition]!.leaderId >= 0) ? now : undefined;
      }, MOVE_DEADLINE_MS);
      // Broker 3 still believes its old metadata, but its lease is gone: it refuses to lead.
      // Clients still reach it; it cannot reach the quorum.
      const response = await directProduce(cluster.node(3).grpcAddress, 'cut', led[0]!);
      expect(response).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      cluster.node(3).cutFromControllers(false);
      expect(await waitFor('broker 3 unfenced again', async () => ((await brokerState(3)) === 'unfenced' ? true : undefined), 10_000)).toBe(true);
    } finally {
      cluster.node(3).cutFromControllers(false);
    }
  }, 40_000);

  it('refuses a registration for another cluster and a stale broker epoch, changing nothing', async () => {
    await expectCode(
      channel.registerBroker({ brokerId: 9, clusterId: 'some-other-cluster', incarnationId: 'x', endpoints: [{ name: 'grpc', host: '127.0.0.1', port: 1 }], rack: '' }, 5_000),
      ErrorCode.INCONSISTENT_CLUSTER_ID,
    );
    await expectCode(
      channel.brokerHeartbeat({ brokerId: 1, brokerEpoch: 0, currentMetadataOffset: 0, wantFence: false, wantShutDown: false }, 5_000),
      ErrorCode.STALE_BROKER_EPOCH,
    );
    await expectCode(
      channel.registerBroker({ brokerId: 1, clusterId: 'local-cluster', incarnationId: 'impostor', endpoints: [{ name: 'grpc', host: '127.0.0.1', port: 1 }], rack: '' }, 5_000),
      ErrorCode.DUPLICATE_BROKER_REGISTRATION,
    );
    expect(await brokerState(9)).toBeUndefined();
    expect(await brokerState(1)).toBe('unfenced');
  });

  it('a broker stopped with SIGTERM hands its leaderships over before it exits', async () => {
    await client.admin().createTopics([{ name: 'graceful', partitions: TOPIC_PARTITIONS, replicationFactor: 3 }]);
    // Preferred leaders may still be returning to broker 2 after its restart; wait until it leads some.
    await waitFor('broker 1 leading', async () => ((await partitions('graceful')).some((p) => p.leaderId === 1) ? true : undefined));
    const exitCode = await cluster.node(1).stop();
    expect(exitCode).toBe(0);
    // Right after the exit, not a session timeout later, no partition names broker 1 as leader.
    const now = await partitions('graceful');
    expect(now.every((p) => p.leaderId !== 1 && p.leaderId >= 0)).toBe(true);
    await cluster.node(1).start();
  }, 30_000);
});

async function expectCode(promise: Promise<unknown>, code: number): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RivuletError);
  expect((error as RivuletError).code).toBe(code);
}

/** Produces one record to `partition` on the broker at `address` itself (no client routing) and returns the error code. */
async function directProduce(address: string, topic: string, partition: number): Promise<number> {
  const transport = new GrpcBrokerTransport(address, 'cluster-test');
  try {
    const records = await encodeRecordBatch({ records: [{ key: null, value: Buffer.from('x'), timestampMs: Date.now() }] });
    const response = await transport.produce({ acks: -1, timeoutMs: 5_000, topics: [{ name: topic, partitions: [{ partition, records }] }] }, 5_000);
    return response.topics[0]!.partitions[0]!.errorCode;
  } finally {
    transport.close();
  }
}
