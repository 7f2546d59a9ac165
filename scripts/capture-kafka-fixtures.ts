/**
 * Captures the golden request frames in packages/kafka/fixtures: real clients (kcat, KafkaJS,
 * @platformatic/kafka) talk to a `rivulet start` node through a recording TCP proxy, which
 * the node advertises as its Kafka address so that every connection passes through it. The
 * first client-to-node frame of each (client, API key, version) is written as
 * `CLIENT-apiKEY-vVERSION.bin` (int32 size prefix included); files that exist are kept, so
 * fixtures stay stable unless --overwrite is given. codec.test.ts decodes and re-encodes
 * every one of them.
 *
 *   npx tsc -b && npx tsx --conditions=@rivulet/source scripts/capture-kafka-fixtures.ts [--overwrite]
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Admin as PlatformaticAdmin, Consumer as PlatformaticConsumer, MessagesStreamModes, Producer as PlatformaticProducer } from '@platformatic/kafka';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { NodeProcess, freePort } from '@rivulet/testkit';

const { values: args } = parseArgs({ options: { overwrite: { type: 'boolean', default: false } } });
const FIXTURES_DIR = fileURLToPath(new URL('../packages/kafka/fixtures/', import.meta.url));

type ClientName = 'kcat' | 'kafkajs' | 'platformatic';

/** Forwards to the node and records the first frame of each API version per client. */
class RecordingProxy {
  client: ClientName = 'kcat';
  readonly written: string[] = [];
  private readonly seen = new Set<string>();
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(port: number, target: () => number): Promise<RecordingProxy> {
    const server = createServer();
    const proxy = new RecordingProxy(server);
    server.on('connection', (socket) => proxy.accept(socket, target()));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return proxy;
  }

  private accept(socket: Socket, targetPort: number): void {
    const upstream = connect(targetPort, '127.0.0.1');
    this.sockets.add(socket).add(upstream);
    const client = this.client;
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(0, 4 + pending.readInt32BE(0));
        pending = pending.subarray(frame.length);
        this.record(client, frame);
      }
    });
    upstream.on('data', (chunk: Buffer) => socket.write(chunk));
    const close = (): void => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  }

  private record(client: ClientName, frame: Buffer): void {
    const name = `${client}-api${frame.readInt16BE(4)}-v${frame.readInt16BE(6)}.bin`;
    if (this.seen.has(name)) return;
    this.seen.add(name);
    const path = join(FIXTURES_DIR, name);
    if (existsSync(path) && !args.overwrite) return;
    writeFileSync(path, frame);
    this.written.push(name);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Runs kcat without blocking: the proxy it talks through lives in this process. */
function kcat(bootstrap: string, kcatArgs: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('kcat', ['-b', bootstrap, ...kcatArgs], { timeout: 30_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`kcat ${kcatArgs.join(' ')} failed: ${stderr}`));
      else resolve();
    });
    child.stdin!.end(input ?? '');
  });
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rivulet-fixtures-'));
  const kafkaPort = await freePort();
  const proxyPort = await freePort();
  const proxy = await RecordingProxy.start(proxyPort, () => kafkaPort);
  const node = new NodeProcess({ dataDir, args: [
      '--kafka-port',
      String(kafkaPort),
      '--advertised-kafka-port',
      String(proxyPort),
      '--auto-create-topics',
      'false',
      '--group-initial-rebalance-delay-ms',
      '0',
      '--offsets-topic-partitions',
      '1',
    ],
  });
  await node.start();
  const bootstrap = `127.0.0.1:${proxyPort}`;
  try {
    proxy.client = 'kafkajs';
    const kafka = new Kafka({ clientId: 'fixtures', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'golden', numPartitions: 2, replicationFactor: 1 }] });
    await admin.createPartitions({ topicPartitions: [{ topic: 'golden', count: 3 }] });
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'golden', configEntries: [{ name: 'retention.ms', value: '86400000' }] }] });
    await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: 'golden' }] });
    await admin.fetchTopicMetadata({ topics: ['golden'] });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({ topic: 'golden', compression: CompressionTypes.GZIP, messages: [{ key: 'k', value: 'v', headers: { h: '1' } }] });
    await producer.disconnect();
    const idempotent = kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
    await idempotent.connect();
    await idempotent.send({ topic: 'golden', acks: -1, messages: [{ value: 'once' }] });
    await idempotent.disconnect();
    await admin.fetchTopicOffsetsByTimestamp('golden', Date.now() - 60_000);
    await admin.deleteTopicRecords({ topic: 'golden', partitions: [{ partition: 0, offset: '0' }] });
    await admin.createTopics({ topics: [{ topic: 'golden-gone', numPartitions: 1, replicationFactor: 1 }] });
    await admin.deleteTopics({ topics: ['golden-gone'] });
    // A consumer group: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, Fetch, OffsetCommit,
    // OffsetFetch and LeaveGroup from the member; the group APIs from the admin.
    const consumer = kafka.consumer({ groupId: 'golden-group', heartbeatInterval: 100, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics: ['golden'], fromBeginning: true });
    let consumed = 0;
    await consumer.run({
      eachMessage: async () => {
        consumed += 1;
      },
    });
    while (consumed < 2) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await consumer.disconnect();
    await admin.describeGroups(['golden-group']);
    await admin.listGroups();
    await admin.fetchOffsets({ groupId: 'golden-group', topics: ['golden'] });
    await admin.deleteGroups(['golden-group']);
    await admin.disconnect();

    proxy.client = 'platformatic';
    const pAdmin = new PlatformaticAdmin({ clientId: 'fixtures', bootstrapBrokers: [bootstrap] });
    const pProducer = new PlatformaticProducer({ clientId: 'fixtures', bootstrapBrokers: [bootstrap], idempotent: true });
    try {
      await pAdmin.createTopics({ topics: ['golden-flex'], partitions: 2, replicas: 1 });
      await pAdmin.metadata({ topics: ['golden-flex'] });
      await pProducer.send({ messages: [{ topic: 'golden-flex', partition: 0, key: Buffer.from('k'), value: Buffer.from('v') }] });
      await pAdmin.createPartitions({ topics: [{ name: 'golden-flex', count: 3 }] });
      await pAdmin.alterConfigs({ resources: [{ resourceType: 2, resourceName: 'golden-flex', configs: [{ name: 'retention.ms', value: '86400000' }] }] });
      await pAdmin.incrementalAlterConfigs({ resources: [{ resourceType: 2, resourceName: 'golden-flex', configs: [{ name: 'max.message.bytes', configOperation: 0, value: '65536' }] }] });
      await pAdmin.describeConfigs({ resources: [{ resourceType: 2, resourceName: 'golden-flex' }] });
      const pConsumer = new PlatformaticConsumer({ groupId: 'golden-flex-group', clientId: 'fixtures', bootstrapBrokers: [bootstrap] });
      const stream = await pConsumer.consume({ topics: ['golden-flex'], mode: MessagesStreamModes.EARLIEST, autocommit: true, heartbeatInterval: 100 });
      await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await stream.close();
      await pConsumer.close();
      await pAdmin.listGroups();
      await pAdmin.describeGroups({ groups: ['golden-flex-group'] });
      await pAdmin.deleteGroups({ groups: ['golden-flex-group'] });
      await pAdmin.deleteTopics({ topics: ['golden-flex'] });
    } finally {
      await pProducer.close();
      await pAdmin.close();
    }

    proxy.client = 'kcat';
    await kcat(bootstrap, ['-L']);
    await kcat(bootstrap, ['-P', '-t', 'golden', '-z', 'gzip', '-K:', '-H', 'h=1'], 'k:v\n');
    await kcat(bootstrap, ['-P', '-t', 'golden', '-X', 'enable.idempotence=true'], 'once\n');
    await kcat(bootstrap, ['-C', '-t', 'golden', '-o', 'beginning', '-e', '-q']);
    await kcat(bootstrap, ['-Q', '-t', 'golden:0:-1']);
    await kcat(bootstrap, ['-G', 'golden-kcat-group', 'golden', '-X', 'auto.offset.reset=earliest', '-e', '-q']);
  } finally {
    await node.stop();
    await proxy.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(proxy.written.length === 0 ? 'no new fixtures' : `wrote ${proxy.written.join(', ')}`);
}

await main();
