// `rivulet cluster status` against a real cluster: 3 controller processes and 3 broker
// processes on loopback. A broker killed with SIGKILL shows up fenced with its partitions led
// elsewhere; a killed controller shows up unreachable while the other two still answer.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RivuletClient } from '@rivulet/client';
import { CLI_BIN, LocalCluster, waitFor } from '@rivulet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let cluster: LocalCluster;
let client: RivuletClient;
/** A broker this test never kills: the CLI's bootstrap. */
let bootstrap: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rivulet-cluster-status-'));
  cluster = await LocalCluster.start({ baseDir: dir, controllers: 3, brokers: 3 });
  bootstrap = cluster.node(1).grpcAddress;
  client = new RivuletClient({ bootstrap, requestTimeoutMs: 10_000 });
});

afterAll(async () => {
  await client?.close();
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface StatusOutput {
  readonly text: string;
  /** Rows (header first) of each section, keyed by its title line. */
  readonly sections: Map<string, string[][]>;
}

/** Runs the built `rivulet cluster status` and splits its output into sections of columns. */
function clusterStatus(): Promise<StatusOutput> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI_BIN, 'cluster', 'status', '--bootstrap', bootstrap], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`cluster status failed: ${error.message}\n${stderr}`));
      const sections = new Map<string, string[][]>();
      let current: string[][] | undefined;
      for (const line of stdout.split('\n')) {
        if (line === '') current = undefined;
        else if (current === undefined && /^[A-Z ]+$/.test(line)) sections.set(line, (current = []));
        else current?.push(line.trim().split(/\s{2,}/));
      }
      resolve({ text: stdout, sections });
    });
  });
}

function rows(status: StatusOutput, title: string): Record<string, string>[] {
  const section = status.sections.get(title);
  if (section === undefined) throw new Error(`no ${title} section in:\n${status.text}`);
  const [header, ...body] = section;
  // Table rows start with a number (an id) or a topic name; free text lines are left out by the caller.
  return body.filter((r) => r.length === header!.length).map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!])));
}

/** The controllers table; the LEADER column is empty on followers, so rows are parsed by position. */
function controllerRows(status: StatusOutput): { id: string; role: string; lag: string; term: string }[] {
  const section = status.sections.get('CONTROLLERS');
  if (section === undefined) throw new Error(`no CONTROLLERS section in:\n${status.text}`);
  return section
    .slice(1)
    .filter((r) => /^\d+$/.test(r[0]!))
    .map((r) => (r[2] === '-' ? { id: r[0]!, role: 'unreachable', lag: r[r.length - 1]!, term: '-' } : { id: r[0]!, role: r[2]!, lag: r[r.length - 1]!, term: r[r.length - 4]! }));
}

describe('rivulet cluster status on 3 controllers and 3 brokers', () => {
  it('shows the quorum, the brokers and partition health, and follows a broker and a controller dying', async () => {
    await client.admin().createTopics([{ name: 'status', partitions: 6, replicationFactor: 3 }]);
    // Wait until every broker has every replica in sync (the ISR starts full).
    await waitFor('a healthy cluster', async () => {
      const metadata = await client.admin().metadata(['status']);
      return metadata.topics[0]!.partitions.every((p) => p.leaderId > 0 && p.isr.length === 3) ? true : undefined;
    });

    // DescribeCluster names the controller quorum a broker was configured with.
    const described = await client.admin().describeCluster();
    expect(described.controllers.map((c) => `${c.nodeId}@${c.address}`).join(',')).toBe(cluster.quorum);

    const healthy = await clusterStatus();
    expect(healthy.text).toContain('Cluster: local-cluster');
    const controllers = controllerRows(healthy);
    expect(controllers.map((c) => c.id)).toEqual(['1001', '1002', '1003']);
    expect(controllers.filter((c) => c.role === 'leader')).toHaveLength(1);
    expect(controllers.every((c) => /^\d+$/.test(c.lag))).toBe(true);
    expect(rows(healthy, 'BROKERS').map((b) => [b.ID, b.STATE])).toEqual([
      ['1', 'unfenced'],
      ['2', 'unfenced'],
      ['3', 'unfenced'],
    ]);
    expect(rows(healthy, 'BROKERS').every((b) => b['LAST-HEARTBEAT']!.endsWith('ago'))).toBe(true);
    expect(healthy.sections.get('PARTITIONS WITHOUT A LEADER OR WITH A SHRUNKEN ISR')).toEqual([['none: all 6 partitions have a leader and every replica in sync']]);
    const epochBefore = Number(rows(healthy, 'BROKERS').find((b) => b.ID === '2')!.EPOCH);

    // kill -9 of broker 2: its session expires, the controller fences it and moves its leaderships.
    await cluster.node(2).kill();
    await waitFor(
      'broker 2 fenced and its partitions led elsewhere',
      async () => {
        const quorum = await client.admin().describeQuorum();
        const metadata = await client.admin().metadata(['status']);
        const fenced = quorum.active?.brokers.find((b) => b.brokerId === 2)?.state === 'fenced';
        return fenced && metadata.topics[0]!.partitions.every((p) => p.leaderId > 0 && p.leaderId !== 2 && !p.isr.includes(2)) ? true : undefined;
      },
      20_000,
      200,
    );
    const brokerDown = await clusterStatus();
    const brokers = rows(brokerDown, 'BROKERS');
    expect(brokers.map((b) => [b.ID, b.STATE])).toEqual([
      ['1', 'unfenced'],
      ['2', 'fenced'],
      ['3', 'unfenced'],
    ]);
    expect(Number(brokers.find((b) => b.ID === '2')!.EPOCH)).toBe(epochBefore);
    // Every partition had a replica on broker 2: all now have a shrunken ISR and a leader elsewhere.
    const shrunken = rows(brokerDown, 'PARTITIONS WITHOUT A LEADER OR WITH A SHRUNKEN ISR');
    expect(shrunken.map((p) => p.PARTITION).sort()).toEqual(['0', '1', '2', '3', '4', '5']);
    for (const p of shrunken) {
      expect(p.TOPIC).toBe('status');
      expect(['1', '3']).toContain(p.LEADER);
      expect(p.REPLICAS!.split(',').sort()).toEqual(['1', '2', '3']);
      expect(p.ISR!.split(',').sort()).toEqual(['1', '3']);
    }

    // kill -9 of the active controller: it shows up unreachable, the other two answer and elect a new leader.
    const oldLeader = controllerRows(brokerDown).find((c) => c.role === 'leader')!;
    await cluster.node(Number(oldLeader.id)).kill();
    const controllerDown = await waitFor(
      'a new active controller',
      async () => {
        const status = await clusterStatus();
        return controllerRows(status).some((c) => c.role === 'leader') ? status : undefined;
      },
      20_000,
      250,
    );
    const after = controllerRows(controllerDown);
    expect(after.map((c) => c.id)).toEqual(['1001', '1002', '1003']);
    expect(after.find((c) => c.id === oldLeader.id)).toMatchObject({ role: 'unreachable', lag: 'unreachable' });
    const answering = after.filter((c) => c.id !== oldLeader.id);
    expect(answering.every((c) => c.role !== 'unreachable' && /^\d+$/.test(c.lag))).toBe(true);
    const newLeader = answering.find((c) => c.role === 'leader')!;
    expect(Number(newLeader.term)).toBeGreaterThan(Number(oldLeader.term));
    expect(controllerDown.text).toContain(`controller ${oldLeader.id} unreachable: NETWORK_EXCEPTION`);
    expect(controllerDown.text).toContain(`Active controller: ${newLeader.id}`);
    // The new active controller knows the brokers too.
    expect(rows(controllerDown, 'BROKERS').map((b) => [b.ID, b.STATE])).toEqual([
      ['1', 'unfenced'],
      ['2', 'fenced'],
      ['3', 'unfenced'],
    ]);
  });
});
