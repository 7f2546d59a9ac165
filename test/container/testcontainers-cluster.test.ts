import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenericContainer, Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { RivuletClient } from '@rivulet/client';
import { waitFor } from '@rivulet/testkit';
import { IMAGE, dockerAvailable, requireImage, translatingTransport } from './docker.js';

// A cluster started from code with testcontainers: 1 controller and 2 brokers of the rivulet
// image on a user-defined network, where nodes find each other by network alias. The test
// client on the host bootstraps from a broker's mapped gRPC port and reaches each broker by
// translating the advertised alias (broker-N:9093) to that broker's mapped port.
//
// The vitest project sets TESTCONTAINERS_RYUK_DISABLED=true (no registry to pull the reaper
// from; afterAll stops what it started) and TESTCONTAINERS_HOST_OVERRIDE=localhost. The
// image has no shell, so readiness is the node's own "node ready" log line.
//
// Skipped, with this reason, where no Docker engine answers: the test needs a real engine.
// CI (scripts/test.sh) installs and starts one, so there it runs.

const CLUSTER_ID = 'rivulet-testcontainers';
const QUORUM = '1001@controller-1:9093';
const NODE_READY = /"msg":"node ready"/;

describe.skipIf(!dockerAvailable)('testcontainers: 1 controller and 2 brokers on a Docker network', () => {
  let network: StartedNetwork | undefined;
  const containers: StartedTestContainer[] = [];
  const brokers = new Map<string, StartedTestContainer>();
  let client: RivuletClient | undefined;

  function node(alias: string, env: Record<string, string>): GenericContainer {
    return new GenericContainer(IMAGE)
      .withNetwork(network!)
      .withNetworkAliases(alias)
      .withEnvironment({ RIVULET_CLUSTER_ID: CLUSTER_ID, RIVULET_CONTROLLER_QUORUM: QUORUM, RIVULET_ADVERTISED_HOST: alias, ...env })
      .withWaitStrategy(Wait.forLogMessage(NODE_READY))
      .withStartupTimeout(90_000);
  }

  beforeAll(async () => {
    await requireImage();
    const started = Date.now();
    network = await new Network().start();
    containers.push(await node('controller-1', { RIVULET_ROLES: 'controller', RIVULET_NODE_ID: '1001' }).start());
    const startedBrokers = await Promise.all(
      [1, 2].map((id) => node(`broker-${id}`, { RIVULET_ROLES: 'broker', RIVULET_NODE_ID: String(id) }).withExposedPorts(9093).start()),
    );
    startedBrokers.forEach((container, i) => {
      containers.push(container);
      brokers.set(`broker-${i + 1}`, container);
    });
    console.log(`testcontainers cluster ready in ${Date.now() - started} ms`);
    const first = brokers.get('broker-1')!;
    client = new RivuletClient({
      bootstrap: `${first.getHost()}:${first.getMappedPort(9093)}`,
      requestTimeoutMs: 10_000,
      transportFactory: translatingTransport((address) => {
        const alias = address.slice(0, address.lastIndexOf(':'));
        const container = brokers.get(alias);
        return container === undefined ? address : `${container.getHost()}:${container.getMappedPort(9093)}`;
      }),
    });
  }, 240_000);

  afterAll(async () => {
    await client?.close();
    // Brokers first, then the controller, then the network (no Ryuk reaps anything left).
    for (const container of containers.reverse()) await container.stop({ timeout: 5_000 });
    await network?.stop();
  }, 120_000);

  it('produces and consumes records through both brokers', async () => {
    const metadata = await client!.admin().metadata();
    expect(metadata.clusterId).toBe(CLUSTER_ID);
    expect(metadata.brokers.map((b) => [b.nodeId, `${b.host}:${b.grpcPort}`])).toEqual([
      [1, 'broker-1:9093'],
      [2, 'broker-2:9093'],
    ]);

    await client!.admin().createTopics([{ name: 'events', partitions: 2, replicationFactor: 2 }]);
    const partitions = await waitFor('both partitions of events led', async () => {
      const topic = (await client!.admin().metadata(['events'])).topics.find((t) => t.name === 'events');
      return topic !== undefined && topic.partitions.length === 2 && topic.partitions.every((p) => p.leaderId >= 0) ? topic.partitions : undefined;
    });
    // Leaders are spread: one partition on each broker, so both containers serve a record.
    expect(partitions.map((p) => p.leaderId).sort()).toEqual([1, 2]);

    const producer = client!.producer({ lingerMs: 0 });
    for (const p of partitions) {
      const sent = await producer.send({ topic: 'events', partition: p.partition, key: `k${p.partition}`, value: `hello from broker ${p.leaderId}` });
      expect(sent).toMatchObject({ topic: 'events', partition: p.partition, offset: 0 });
    }
    await producer.close();

    const consumer = client!.consumer({ fetchMaxWaitMs: 100 });
    const tps = partitions.map((p) => ({ topic: 'events', partition: p.partition }));
    consumer.assign(tps);
    for (const tp of tps) consumer.seek(tp, 'earliest');
    const received: string[] = [];
    for await (const record of consumer.stream({ stopAtEnd: true })) received.push(`${record.partition}:${record.key!.toString()}:${record.value!.toString()}`);
    await consumer.close();
    expect(received.sort()).toEqual(partitions.map((p) => `${p.partition}:k${p.partition}:hello from broker ${p.leaderId}`).sort());
  });
});
