// Measures the controller quorum and broker lifecycle with real processes: 3 controllers and 3
// brokers (`rivulet start` on loopback, default settings: 2 s broker session timeout, 500 ms
// heartbeats). Reports:
//  - failover: time from kill -9 of a broker that leads partitions of a new 6-partition
//    topic (replication factor 3) until metadata (asked of a surviving broker every 20 ms)
//    shows new leaders for all of them, and until an acks=all produce to one of its
//    partitions, sent right after the kill by a producer that knew the old leader, succeeds;
//    over several runs (the killed broker is restarted between runs);
//  - metadata scale: creating 10,000 partitions (100 topics x 100, replication factor 3, so
//    30,000 replicas over 3 brokers) until every broker hosts its replicas; then the time
//    from starting a stopped broker that hosts 10,000 replicas until it is ready (unfenced,
//    replicas open, metadata applied).
// Prints a table.
// Run: npx tsc -b && npx tsx --conditions=@rivulet/source scripts/bench/cluster.ts [failoverRuns=10] [topics=100] [partitionsPerTopic=100]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RivuletClient } from '../../packages/client/src/index.js';
import { LocalCluster, waitFor } from '../../packages/testkit/src/index.js';

const failoverRuns = Number(process.argv[2] ?? 10);
const topicCount = Number(process.argv[3] ?? 100);
const partitionsPerTopic = Number(process.argv[4] ?? 100);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function leadersOf(client: RivuletClient, topic: string): Promise<number[]> {
  const metadata = await client.admin().metadata([topic]);
  return metadata.topics.find((t) => t.name === topic)!.partitions.map((p) => p.leaderId);
}

/** Milliseconds from kill -9 of a leader's broker to new leaders in metadata, and to a successful acks=all produce. */
async function failover(cluster: LocalCluster, run: number): Promise<{ metadataMs: number; produceMs: number }> {
  const victim = cluster.brokers()[run % 3]!;
  const survivor = cluster.brokers().find((b) => b !== victim)!;
  const client = new RivuletClient({ bootstrap: [survivor.grpcAddress], requestTimeoutMs: 5_000 });
  const producer = client.producer({ lingerMs: 0, acks: 'all' });
  try {
    const topic = `failover-${run}`;
    await client.admin().createTopics([{ name: topic, partitions: 6, replicationFactor: 3 }]);
    // Brokers apply the new topic a moment apart; ask until the one answering knows it.
    const leaders = await waitFor(
      'the new topic in metadata, led',
      async () => {
        const now = await leadersOf(client, topic).catch(() => undefined);
        return now !== undefined && now.every((l) => l >= 0) ? now : undefined;
      },
      10_000,
      20,
    );
    const partition = leaders.indexOf(victim.id);
    if (partition < 0) throw new Error(`broker ${victim.id} leads none of ${topic}`);
    // The producer knows the leader before the kill, as a running application would.
    await producer.send({ topic, partition, value: Buffer.from('before') });
    const killedAt = performance.now();
    await victim.kill();
    const produced = producer.send({ topic, partition, value: Buffer.from('after') }).then(() => performance.now() - killedAt);
    await waitFor(
      'new leaders',
      async () => {
        const now = await leadersOf(client, topic);
        return now.every((l) => l !== victim.id && l >= 0) ? true : undefined;
      },
      30_000,
      20,
    );
    const metadataMs = performance.now() - killedAt;
    const produceMs = await produced;
    await victim.start();
    return { metadataMs, produceMs };
  } finally {
    await producer.close();
    await client.close();
  }
}

async function main(): Promise<void> {
  const baseDir = await mkdtemp(join(tmpdir(), 'rivulet-bench-cluster-'));
  const cluster = await LocalCluster.start({ baseDir, controllers: 3, brokers: 3, startTimeoutMs: 120_000 });
  const rows: string[][] = [];
  try {
    const client = new RivuletClient({ bootstrap: cluster.bootstrap(), requestTimeoutMs: 120_000 });
    const failovers: { metadataMs: number; produceMs: number }[] = [];
    for (let run = 0; run < failoverRuns; run++) failovers.push(await failover(cluster, run));
    const summary = (values: number[]): string => {
      const sorted = [...values].sort((a, b) => a - b);
      return `p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${sorted[sorted.length - 1]!.toFixed(0)} ms`;
    };
    rows.push([`kill -9 of a leader's broker -> new leaders in metadata (${failoverRuns} runs)`, summary(failovers.map((f) => f.metadataMs))]);
    rows.push([`kill -9 of a leader's broker -> an acks=all produce to its partition succeeds`, summary(failovers.map((f) => f.produceMs))]);

    const total = topicCount * partitionsPerTopic;
    const createdAt = performance.now();
    const BATCH = 10;
    for (let t = 0; t < topicCount; t += BATCH) {
      const topics = Array.from({ length: Math.min(BATCH, topicCount - t) }, (_, i) => ({ name: `scale-${t + i}`, partitions: partitionsPerTopic, replicationFactor: 3 }));
      await client.admin().createTopics(topics);
    }
    const committedMs = performance.now() - createdAt;
    // Every broker hosts a replica of every partition (replication factor 3 on 3 brokers).
    await waitFor(
      'every broker hosting its replicas',
      async () => {
        for (const broker of cluster.brokers()) {
          const c = new RivuletClient({ bootstrap: [broker.grpcAddress] });
          try {
            const described = await c.admin().describeCluster();
            if ((described.node?.partitionCount ?? 0) < total + 6 * failoverRuns) return undefined;
          } finally {
            await c.close();
          }
        }
        return true;
      },
      300_000,
      100,
    );
    const createMs = performance.now() - createdAt;
    rows.push([`create ${total} partitions (${topicCount} topics, RF 3, 3 brokers): committed`, `${(committedMs / 1000).toFixed(1)} s`]);
    rows.push([`create ${total} partitions: every broker hosts its ${total} replicas`, `${(createMs / 1000).toFixed(1)} s`]);

    const broker = cluster.brokers()[0]!;
    await broker.stop();
    const startedAt = performance.now();
    await broker.start();
    rows.push([`broker restart with ${total + 6 * failoverRuns} replicas: start -> ready`, `${((performance.now() - startedAt) / 1000).toFixed(1)} s`]);
    await client.close();
  } finally {
    await cluster.stop();
    await rm(baseDir, { recursive: true, force: true });
  }
  const width = Math.max(...rows.map((r) => r[0]!.length));
  console.log(`${'case'.padEnd(width)}  result`);
  for (const [name, value] of rows) console.log(`${name!.padEnd(width)}  ${value}`);
}

await main();
