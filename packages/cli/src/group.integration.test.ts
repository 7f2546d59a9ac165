import { RivuletClient } from '@rivulet/client';
import { startEmbeddedNode, type RunningNode } from '@rivulet/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { capturedIo } from './test-io.js';

// `rivulet group …` and the lag metric against a real node: a group whose member commits
// offsets, described, refused a reset and a delete while the member is in it, then reset and
// deleted once it left; /metrics follows along.

let node: RunningNode;
let client: RivuletClient;
let bootstrap: string[];

beforeAll(async () => {
  node = await startEmbeddedNode({
    autoCreateTopics: false,
    httpPort: 0,
    groupInitialRebalanceDelayMs: 0,
    groupMinSessionTimeoutMs: 500,
    offsetsTopicPartitions: 3,
    offsetsTopicReplicationFactor: 1,
  });
  bootstrap = ['--bootstrap', node.grpcAddress];
  client = new RivuletClient({ bootstrap: node.grpcAddress, requestTimeoutMs: 10_000 });
});

afterAll(async () => {
  await client?.close();
  await node?.stop();
});

async function rivulet(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const io = capturedIo(stdin);
  const code = await runCli([...args, ...bootstrap], io);
  return { code, out: io.out(), err: io.err() };
}

async function scrape(): Promise<string> {
  const response = await fetch(`http://${node.httpAddress}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

/** The lag gauges of a group in a scrape, as `name{labels} value` lines. */
function lagLines(metrics: string, groupId: string): string[] {
  return metrics
    .split('\n')
    .filter((line) => line.startsWith('rivulet_consumer_group_lag') && line.includes(`group="${groupId}"`))
    .sort();
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('rivulet group against an embedded node', () => {
  it('describes a group with its lag, refuses to reset or delete it while it has a member, then resets and deletes it; /metrics shows the lag', async () => {
    expect((await rivulet(['topic', 'create', 'orders', '--partitions', '3'])).code).toBe(0);
    // Partition p holds 10 * (p + 1) records.
    for (const partition of [0, 1, 2]) {
      const lines = Array.from({ length: 10 * (partition + 1) }, (_, i) => `p${partition}-${i}`).join('\n') + '\n';
      expect(await rivulet(['produce', 'orders', '--partition', String(partition)], lines)).toMatchObject({ code: 0, err: '' });
    }
    expect(await rivulet(['group', 'list'])).toMatchObject({ code: 0, out: 'no groups\n' });

    const consumer = client.consumer({ groupId: 'billing', autoCommit: false, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 200, rebalanceTimeoutMs: 10_000 });
    consumer.subscribe(['orders']);
    await waitFor('the member holds every partition', () => consumer.assignment().length === 3);
    await consumer.commitOffsets([
      { topic: 'orders', partition: 0, offset: 4 },
      { topic: 'orders', partition: 1, offset: 20 },
      { topic: 'orders', partition: 2, offset: 0 },
    ]);
    const memberId = consumer.groupMetadata()!.memberId;

    const listed = await rivulet(['group', 'list']);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^GROUP\s+STATE\s+PROTOCOL-TYPE\s+MEMBERS\nbilling\s+Stable\s+consumer\s+1\n$/);

    const described = await rivulet(['group', 'describe', 'billing']);
    expect(described).toMatchObject({ code: 0, err: '' });
    expect(described.out).toContain('Group: billing  State: Stable  Protocol: consumer  Assignor: cooperative-sticky  Members: 1\n');
    expect(described.out).toMatch(new RegExp(`\\n${memberId}\\s+rivulet\\s+/127\\.0\\.0\\.1\\s+-\\s+orders:0,1,2\\n`));
    expect(described.out).toMatch(new RegExp(`\\norders\\s+0\\s+${memberId}\\s+4\\s+10\\s+6\\n`));
    expect(described.out).toMatch(new RegExp(`\\norders\\s+1\\s+${memberId}\\s+20\\s+20\\s+0\\n`));
    expect(described.out).toMatch(new RegExp(`\\norders\\s+2\\s+${memberId}\\s+0\\s+30\\s+30\\n`));
    expect(described.out).toContain('\nTotal lag: 36\n');

    expect(lagLines(await scrape(), 'billing')).toEqual([
      'rivulet_consumer_group_lag_total{group="billing"} 36',
      'rivulet_consumer_group_lag{group="billing",topic="orders",partition="0"} 6',
      'rivulet_consumer_group_lag{group="billing",topic="orders",partition="1"} 0',
      'rivulet_consumer_group_lag{group="billing",topic="orders",partition="2"} 30',
    ]);

    const refusedReset = await rivulet(['group', 'reset-offsets', 'billing', '--topic', 'orders', '--to-earliest', '--execute']);
    expect(refusedReset.code).toBe(1);
    expect(refusedReset.err).toBe(
      'rivulet: NON_EMPTY_GROUP: group billing has 1 active member (state Stable): its offsets can be reset only while it is empty; stop its consumers (or wait for their sessions to time out) first\n',
    );
    const dryRun = await rivulet(['group', 'reset-offsets', 'billing', '--topic', 'orders', '--to-earliest']);
    expect(dryRun.code).toBe(0);
    expect(dryRun.out).toMatch(/^TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+NEW-OFFSET\norders\s+0\s+4\s+0\norders\s+1\s+20\s+0\norders\s+2\s+0\s+0\ndry run: nothing changed\. group billing has 1 active member/);
    const refusedDelete = await rivulet(['group', 'delete', 'billing']);
    expect(refusedDelete).toMatchObject({ code: 1, out: '' });
    expect(refusedDelete.err).toMatch(/^rivulet: NON_EMPTY_GROUP: group billing has active members: it can be deleted only while it is empty/);
    expect((await client.admin().describeGroupLag('billing')).totalLag).toBe(36);

    await consumer.close();
    const empty = await rivulet(['group', 'describe', 'billing']);
    expect(empty.out).toContain('State: Empty');
    expect(empty.out).toContain('\nno active members\n');
    expect(empty.out).toMatch(/\norders\s+0\s+-\s+4\s+10\s+6\n/);
    expect(empty.out).toContain('\nTotal lag: 36\n');

    const reset = await rivulet(['group', 'reset-offsets', 'billing', '--topic', 'orders', '--to-earliest', '--execute']);
    expect(reset.code).toBe(0);
    expect(reset.out).toMatch(/^TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+NEW-OFFSET\norders\s+0\s+4\s+0\norders\s+1\s+20\s+0\norders\s+2\s+0\s+0\ncommitted the new offsets of 3 partitions to group billing\n$/);
    const afterReset = await rivulet(['group', 'describe', 'billing']);
    expect(afterReset.out).toMatch(/\norders\s+0\s+-\s+0\s+10\s+10\norders\s+1\s+-\s+0\s+20\s+20\norders\s+2\s+-\s+0\s+30\s+30\nTotal lag: 60\n$/);
    expect(lagLines(await scrape(), 'billing')).toContain('rivulet_consumer_group_lag_total{group="billing"} 60');

    // A shift is planned from the committed offsets; without --execute nothing changes.
    const shift = await rivulet(['group', 'reset-offsets', 'billing', '--topic', 'orders:1', '--shift-by', '25']);
    expect(shift.out).toMatch(/^TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+NEW-OFFSET\norders\s+1\s+0\s+20\ndry run: nothing changed; run again with --execute/);
    expect((await client.admin().listGroupOffsets('billing')).map((o) => o.offset)).toEqual([0, 0, 0]);

    expect(await rivulet(['group', 'delete', 'billing'])).toMatchObject({ code: 0, out: 'deleted group billing\n', err: '' });
    expect(await rivulet(['group', 'describe', 'billing'])).toMatchObject({ code: 1, err: 'rivulet: GROUP_ID_NOT_FOUND: group billing does not exist\n' });
    expect(await rivulet(['group', 'delete', 'billing'])).toMatchObject({ code: 1, err: 'rivulet: GROUP_ID_NOT_FOUND: group billing does not exist\n' });
    expect(lagLines(await scrape(), 'billing')).toEqual([]);
  });

  it('resets the offsets of a group that does not exist yet, which creates it', async () => {
    await rivulet(['topic', 'create', 'events', '--partitions', '2']);
    await rivulet(['produce', 'events', '--partition', '1'], 'a\nb\nc\n');
    const reset = await rivulet(['group', 'reset-offsets', 'fresh', '--topic', 'events', '--to-latest', '--execute']);
    expect(reset.out).toMatch(/^TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+NEW-OFFSET\nevents\s+0\s+-\s+0\nevents\s+1\s+-\s+3\n/);
    expect((await rivulet(['group', 'describe', 'fresh'])).out).toMatch(/\nevents\s+1\s+-\s+3\s+3\s+0\nTotal lag: 0\n$/);
    const unknownPartition = await rivulet(['group', 'reset-offsets', 'fresh', '--topic', 'events:5', '--to-earliest']);
    expect(unknownPartition).toMatchObject({ code: 1, err: 'rivulet: UNKNOWN_TOPIC_OR_PARTITION: topic events has no partition 5 (it has 2)\n' });
    const unknownTopic = await rivulet(['group', 'reset-offsets', 'fresh', '--topic', 'nope', '--to-earliest']);
    expect(unknownTopic.code).toBe(1);
    expect(unknownTopic.err).toMatch(/^rivulet: UNKNOWN_TOPIC_OR_PARTITION: /);
  });
});
