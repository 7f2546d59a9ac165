import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedNode, type RunningNode } from '@rivulet/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { capturedIo } from './test-io.js';

let node: RunningNode;
let bootstrap: string[];

beforeAll(async () => {
  node = await startEmbeddedNode({ autoCreateTopics: false });
  bootstrap = ['--bootstrap', node.grpcAddress];
});

afterAll(async () => {
  await node?.stop();
});

async function rivulet(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const io = capturedIo(stdin);
  const code = await runCli([...args, ...bootstrap], io);
  return { code, out: io.out(), err: io.err() };
}

describe('rivulet CLI against an embedded node', () => {
  it('creates, lists, describes and deletes topics', async () => {
    expect(await rivulet(['topic', 'create', 'cli-a', '--partitions', '3', '--config', 'retention.ms=3600000'])).toMatchObject({ code: 0, out: 'created topic cli-a\n' });
    expect((await rivulet(['topic', 'list'])).out.split('\n')).toContain('cli-a');
    const described = await rivulet(['topic', 'describe', 'cli-a']);
    expect(described.code).toBe(0);
    expect(described.out).toContain('Topic: cli-a  Partitions: 3');
    expect(described.out).toContain('retention.ms=3600000');
    expect(described.out.trim().split('\n').filter((l) => /^\d+\s/.test(l))).toHaveLength(3);

    expect(await rivulet(['topic', 'alter-config', 'cli-a', '--set', 'retention.bytes=1048576', '--delete', 'retention.ms'])).toMatchObject({ code: 0, out: 'altered configs of topic cli-a\n' });
    expect(await rivulet(['topic', 'add-partitions', 'cli-a', '--partitions', '5'])).toMatchObject({ code: 0, out: 'topic cli-a has 5 partitions\n' });
    const altered = await rivulet(['topic', 'describe', 'cli-a']);
    expect(altered.out).toContain('Topic: cli-a  Partitions: 5');
    expect(altered.out).toContain('retention.bytes=1048576');
    expect(altered.out).not.toContain('retention.ms=3600000');
    const badConfig = await rivulet(['topic', 'alter-config', 'cli-a', '--set', 'retention.bytes=huge']);
    expect(badConfig.code).toBe(1);
    expect(badConfig.err).toContain('INVALID_CONFIG');
    const fewer = await rivulet(['topic', 'add-partitions', 'cli-a', '--partitions', '2']);
    expect(fewer.code).toBe(1);
    expect(fewer.err).toContain('INVALID_PARTITIONS');

    const again = await rivulet(['topic', 'create', 'cli-a']);
    expect(again.code).toBe(1);
    expect(again.err).toContain('TOPIC_ALREADY_EXISTS');

    expect(await rivulet(['topic', 'delete', 'cli-a'])).toMatchObject({ code: 0 });
    expect((await rivulet(['topic', 'list'])).out.split('\n')).not.toContain('cli-a');
    expect((await rivulet(['topic', 'delete', 'cli-a'])).code).toBe(1);
  });

  it('produces stdin and consumes it back identical, keys included', async () => {
    await rivulet(['topic', 'create', 'cli-keys', '--partitions', '3']);
    const lines = Array.from({ length: 2000 }, (_, i) => `key${i % 17}:value ${i} ü`);
    const produced = await rivulet(['produce', 'cli-keys', '--key-separator', ':', '--compression', 'lz4'], lines.join('\n') + '\n');
    expect(produced).toMatchObject({ code: 0, err: '' });

    const consumed = await rivulet(['consume', 'cli-keys', '--from-beginning', '--exit-on-end', '--format', '%k:%v']);
    expect(consumed.code).toBe(0);
    const out = consumed.out.trimEnd().split('\n');
    expect([...out].sort()).toEqual([...lines].sort());
    // Per key, order is preserved: every key lives on one partition.
    const forKey3 = out.filter((l) => l.startsWith('key3:'));
    expect(forKey3).toEqual(lines.filter((l) => l.startsWith('key3:')));
  });

  it('prints delivery reports and honours --partition and --acks', async () => {
    await rivulet(['topic', 'create', 'cli-report', '--partitions', '2']);
    const result = await rivulet(['produce', 'cli-report', '--partition', '1', '--acks', '1', '--report'], 'a\nb\nc\n');
    expect(result.code).toBe(0);
    expect(result.out.trim().split('\n').sort()).toEqual(['cli-report\t1\t0', 'cli-report\t1\t1', 'cli-report\t1\t2']);
    const fromOffset = await rivulet(['consume', 'cli-report', '--partition', '1', '--offset', '1', '--exit-on-end', '--format', '%p %o %v']);
    expect(fromOffset.out).toBe('1 1 b\n1 2 c\n');
  });

  it('stops after --max-messages', async () => {
    await rivulet(['topic', 'create', 'cli-max', '--partitions', '1']);
    await rivulet(['produce', 'cli-max'], Array.from({ length: 50 }, (_, i) => `m${i}`).join('\n'));
    const consumed = await rivulet(['consume', 'cli-max', '--from-beginning', '--max-messages', '7']);
    expect(consumed).toMatchObject({ code: 0, out: 'm0\nm1\nm2\nm3\nm4\nm5\nm6\n' });
  });

  it('fails with non-zero exit codes and clear messages', async () => {
    const unknownTopic = await rivulet(['consume', 'no-such-topic', '--exit-on-end']);
    expect(unknownTopic.code).toBe(1);
    expect(unknownTopic.err).toMatch(/^rivulet: UNKNOWN_TOPIC_OR_PARTITION: /);

    const produceUnknown = await rivulet(['produce', 'no-such-topic'], 'x\n');
    expect(produceUnknown.code).toBe(1);
    expect(produceUnknown.err).toContain('UNKNOWN_TOPIC_OR_PARTITION');

    await rivulet(['topic', 'create', 'cli-one', '--partitions', '1']);
    const badPartition = await rivulet(['consume', 'cli-one', '--partition', '5']);
    expect(badPartition.code).toBe(1);
    expect(badPartition.err).toContain('no partition 5');
  });

  it('reassigns partitions, lists reassignments and drains, with clear refusals on a one-broker node', async () => {
    await rivulet(['topic', 'create', 'cli-moves', '--partitions', '2']);
    // The only possible target is the current replica: the reassignment completes at once.
    const reassigned = await rivulet(['partition', 'reassign', 'cli-moves', '0', '--replicas', '1']);
    expect(reassigned).toMatchObject({ code: 0, out: 'cli-moves-0: reassignment complete, replicas 1, leader 1\n' });
    const dir = await mkdtemp(join(tmpdir(), 'rivulet-plan-'));
    try {
      const plan = join(dir, 'plan.json');
      await writeFile(plan, JSON.stringify({ version: 1, partitions: [{ topic: 'cli-moves', partition: 1, replicas: [1], log_dirs: ['any'] }] }));
      expect((await rivulet(['partition', 'reassign', '--plan', plan])).out).toBe('cli-moves-1: reassignment complete, replicas 1, leader 1\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(await rivulet(['partition', 'reassignments'])).toMatchObject({ code: 0, out: 'no reassignments in progress\n' });

    const cancel = await rivulet(['partition', 'reassign', '--cancel', 'cli-moves', '0']);
    expect(cancel.code).toBe(1);
    expect(cancel.err).toBe('rivulet: NO_REASSIGNMENT_IN_PROGRESS: cli-moves-0: No reassignment of cli-moves-0 is in progress\n');
    const unknownBroker = await rivulet(['partition', 'reassign', 'cli-moves', '0', '--replicas', '1,2']);
    expect(unknownBroker.code).toBe(1);
    expect(unknownBroker.err).toMatch(/^rivulet: INVALID_REPLICA_ASSIGNMENT: .*broker 2, which is not registered/);
    const unknownPartition = await rivulet(['partition', 'reassign', 'cli-moves', '7', '--replicas', '1']);
    expect(unknownPartition.err).toMatch(/^rivulet: UNKNOWN_TOPIC_OR_PARTITION: .*has no partition 7/);

    const drain = await rivulet(['broker', 'drain', '1']);
    expect(drain.code).toBe(1);
    expect(drain.err).toMatch(/^rivulet: INVALID_REPLICATION_FACTOR: Cannot drain broker 1: no unfenced broker outside the replicas \[1\]/);
    const drainUnknown = await rivulet(['broker', 'drain', '5']);
    expect(drainUnknown.err).toBe('rivulet: BROKER_ID_NOT_REGISTERED: Broker 5 is not registered\n');
  });

  it('shows cluster status', async () => {
    const status = await rivulet(['cluster', 'status']);
    expect(status.code).toBe(0);
    expect(status.out).toContain('Cluster: rivulet-dev');
    expect(status.out).toContain(node.grpcAddress.split(':')[1]);
    // A combined node is a quorum of itself: DescribeCluster names its own gRPC address as the controller.
    expect(status.out).toMatch(new RegExp(`\\n1 +${node.grpcAddress.replace(/\./g, '\\.')} +leader +yes +\\d+ +\\d+ +\\d+ +0\\n`));
    expect(status.out).toMatch(/\n1 +unfenced +\d+ +127\.0\.0\.1 /);
  });

  it('the built bin pipes produce into consume', async () => {
    const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
    expect(existsSync(bin), 'build first: npx tsc -b packages/cli').toBe(true);
    const run = (args: string[], stdin: string): Promise<{ code: number | null; out: string; err: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [bin, ...args, ...bootstrap], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('close', (code) => resolve({ code, out, err }));
        child.stdin.end(stdin);
      });
    await rivulet(['topic', 'create', 'cli-bin', '--partitions', '2']);
    const input = Array.from({ length: 10_000 }, (_, i) => `line ${i}`).join('\n') + '\n';
    expect(await run(['produce', 'cli-bin'], input)).toMatchObject({ code: 0, err: '' });
    const consumed = await run(['consume', 'cli-bin', '--from-beginning', '--exit-on-end'], '');
    expect(consumed.code).toBe(0);
    expect(consumed.out.split('\n').filter(Boolean).sort()).toEqual(input.split('\n').filter(Boolean).sort());
    expect((await run(['topic', 'create', 'cli-bin'], '')).code).toBe(1);
  });
});
