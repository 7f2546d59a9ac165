import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GrpcBrokerTransport, RivuletClient, type PartitionInfo } from '@rivulet/client';
import { freePort, waitFor } from '@rivulet/testkit';
import { ComposeProject, composeAvailable, docker, requireImage, translatingTransport, waitHealthy } from './docker.js';

// deploy/docker-compose.yml as users run it: 3 controllers and 3 brokers in containers of the
// rivulet image (scripts/docker-image.sh builds it). A broker container is killed with
// `docker kill` (SIGKILL: no controlled shutdown); the controllers must move every leadership
// it held within 10 s (broker session timeout 2 s). Started again, it must serve again.
//
// Skipped, with this reason, where no Docker engine (or docker-compose) answers: the tests
// need a real engine. CI (scripts/test.sh) installs and starts one, so there they run.

const TOPIC = 'orders';
const PARTITIONS = 6;
const BROKERS = [1, 2, 3] as const;
/** What the issue asks: no partition led by a killed broker 10 s after the kill. */
const FAILOVER_DEADLINE_MS = 10_000;

describe.skipIf(!composeAvailable)('deploy/docker-compose.yml: 3 controllers and 3 brokers in containers', () => {
  const project = new ComposeProject(`rivulet-test-${process.pid}-${Date.now().toString(36)}`, {});
  const grpcPorts = new Map<number, number>();
  let client: RivuletClient;
  let up = false;

  /** A client on the host: brokers advertise broker-N:PORT, published as 127.0.0.1:PORT. */
  function hostClient(bootstrapBrokers: readonly number[]): RivuletClient {
    return new RivuletClient({
      bootstrap: bootstrapBrokers.map((id) => `127.0.0.1:${grpcPorts.get(id)}`),
      requestTimeoutMs: 5_000,
      transportFactory: translatingTransport((address) => address.replace(/^broker-\d+:/, '127.0.0.1:')),
    });
  }

  async function partitions(topic: string, via = client): Promise<PartitionInfo[]> {
    const metadata = await via.admin().metadata([topic]);
    const found = metadata.topics.find((t) => t.name === topic);
    if (found === undefined) throw new Error(`no metadata for ${topic}`);
    return [...found.partitions];
  }

  beforeAll(async () => {
    await requireImage();
    // Listen, published and advertised ports move together (see the compose file); free ones
    // keep this run clear of anything else on the host.
    for (const id of BROKERS) {
      grpcPorts.set(id, await freePort());
      project.env[`BROKER${id}_GRPC_PORT`] = String(grpcPorts.get(id));
      project.env[`BROKER${id}_KAFKA_PORT`] = String(await freePort());
    }
    const started = Date.now();
    up = true;
    await project.run(['up', '-d']);
    const ids = await Promise.all(['controller-1', 'controller-2', 'controller-3', 'broker-1', 'broker-2', 'broker-3'].map((s) => project.containerId(s)));
    await waitHealthy(ids, 90_000);
    console.log(`compose cluster up and healthy in ${Date.now() - started} ms`);
    client = hostClient(BROKERS);
  }, 240_000);

  afterEach(async (context) => {
    if (context.task.result?.state !== 'fail' || !up) return;
    console.log(await project.run(['logs', '--no-color', '--tail', '40']).catch((err: unknown) => String(err)));
  });

  afterAll(async () => {
    await client?.close();
    if (up) await project.run(['down', '-v', '--remove-orphans', '-t', '5']);
  }, 120_000);

  it('moves every leadership of a killed broker container within 10 s, and the restarted broker serves again', async () => {
    await client.admin().createTopics([{ name: TOPIC, partitions: PARTITIONS, replicationFactor: 3 }]);
    const placed = await waitFor('every partition of the new topic led', async () => {
      const now = await partitions(TOPIC);
      return now.length === PARTITIONS && now.every((p) => p.leaderId >= 0) ? now : undefined;
    });
    for (const p of placed) expect([...p.replicas].sort()).toEqual([1, 2, 3]);
    const victim = placed[0]!.leaderId;
    expect(BROKERS).toContain(victim);
    const led = placed.filter((p) => p.leaderId === victim).map((p) => p.partition);
    expect(led.length).toBeGreaterThan(0);

    const container = await project.containerId(`broker-${victim}`);
    const killedAt = Date.now();
    await docker(['kill', container]);
    const moved = await waitFor(
      `no partition of ${TOPIC} led by the killed broker ${victim}`,
      async () => {
        const now = await partitions(TOPIC);
        return now.every((p) => p.leaderId !== victim && p.leaderId >= 0) ? now : undefined;
      },
      FAILOVER_DEADLINE_MS,
      200,
    );
    const failoverMs = Date.now() - killedAt;
    console.log(`leaderships of broker ${victim} (partitions ${led.join(', ')}) moved ${failoverMs} ms after docker kill`);
    expect(failoverMs).toBeLessThan(FAILOVER_DEADLINE_MS);
    for (const p of moved) {
      expect(BROKERS.filter((id) => id !== victim)).toContain(p.leaderId);
      expect(p.isr).not.toContain(victim);
    }
    expect(await docker(['inspect', '-f', '{{.State.Running}}', container])).toBe('false');
    expect((await client.admin().metadata()).brokers.map((b) => b.nodeId).sort()).toEqual(BROKERS.filter((id) => id !== victim));

    // Back with the same volume: it registers again, is unfenced (/readyz turns the health
    // check green) and serves on its published port.
    await docker(['start', container]);
    await waitHealthy([container], 60_000);
    const direct = new GrpcBrokerTransport(`127.0.0.1:${grpcPorts.get(victim)}`, 'container-test');
    try {
      const answer = await direct.getMetadata({ topics: [TOPIC], allowAutoTopicCreation: false }, 5_000);
      expect(answer.brokers.map((b) => b.nodeId).sort()).toEqual([...BROKERS]);
      expect(answer.brokers.find((b) => b.nodeId === victim)).toMatchObject({ host: `broker-${victim}`, grpcPort: grpcPorts.get(victim) });
      expect(answer.topics.find((t) => t.name === TOPIC)?.partitions).toHaveLength(PARTITIONS);
    } finally {
      direct.close();
    }
    // Leaders of a new topic are spread over the unfenced brokers, the restarted one included:
    // a record written to the partition it leads is read back through it.
    const rejoined = hostClient([victim]);
    try {
      await rejoined.admin().createTopics([{ name: 'after-restart', partitions: 3, replicationFactor: 3 }]);
      const fresh = await waitFor('every partition of after-restart led', async () => {
        const now = await partitions('after-restart', rejoined);
        return now.length === 3 && now.every((p) => p.leaderId >= 0) ? now : undefined;
      });
      const mine = fresh.find((p) => p.leaderId === victim);
      expect(mine, `broker ${victim} leads a partition of a topic created after its restart`).toBeDefined();
      const producer = rejoined.producer({ lingerMs: 0 });
      const sent = await producer.send({ topic: 'after-restart', partition: mine!.partition, value: Buffer.from('back') });
      await producer.close();
      expect(sent.offset).toBe(0);
      const consumer = rejoined.consumer({ fetchMaxWaitMs: 100 });
      const tp = { topic: 'after-restart', partition: mine!.partition };
      consumer.assign([tp]);
      consumer.seek(tp, 'earliest');
      const values: string[] = [];
      for await (const record of consumer.stream({ stopAtEnd: true })) values.push(record.value!.toString());
      await consumer.close();
      expect(values).toEqual(['back']);
    } finally {
      await rejoined.close();
    }
  }, 120_000);
});
