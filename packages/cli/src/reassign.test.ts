import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { formatDrain } from './commands/broker.js';
import { formatReassignments, parseReassignmentPlan, parseReplicaList } from './commands/partition.js';
import { capturedIo } from './test-io.js';

describe('parseReassignmentPlan', () => {
  it("reads Kafka's reassignment JSON, ignoring log_dirs", () => {
    const plan = JSON.stringify({
      version: 1,
      partitions: [
        { topic: 'orders', partition: 0, replicas: [1, 2, 3], log_dirs: ['any', 'any', 'any'] },
        { topic: 'orders', partition: 1, replicas: [4] },
      ],
    });
    expect(parseReassignmentPlan(plan)).toEqual([
      { topic: 'orders', partition: 0, replicas: [1, 2, 3] },
      { topic: 'orders', partition: 1, replicas: [4] },
    ]);
  });

  it.each([
    ['not json', /not JSON/],
    ['[]', /expected an object/],
    ['{"version":2,"partitions":[{"topic":"t","partition":0,"replicas":[1]}]}', /unsupported version 2/],
    ['{"version":1,"partitions":[]}', /non-empty array/],
    ['{"version":1,"partitions":[{"partition":0,"replicas":[1]}]}', /partitions\[0\]\.topic/],
    ['{"version":1,"partitions":[{"topic":"t","partition":-1,"replicas":[1]}]}', /partitions\[0\]\.partition/],
    ['{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":["1"]}]}', /partitions\[0\]\.replicas/],
  ])('refuses %s', (text, message) => {
    expect(() => parseReassignmentPlan(text)).toThrow(message);
  });
});

describe('parseReplicaList', () => {
  it('reads comma-separated ids and refuses anything else', () => {
    expect(parseReplicaList('3, 1,2')).toEqual([3, 1, 2]);
    for (const bad of ['', '1,,2', '1,a', '-1', '1.5']) expect(() => parseReplicaList(bad)).toThrow(/--replicas expects/);
  });
});

describe('formatting', () => {
  it('shows each reassignment with what it waits for', () => {
    const out = formatReassignments([
      { topic: 't', partition: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1], isr: [1, 2, 3], leaderId: 1, addingNotInIsr: [4] },
      { topic: 't', partition: 1, replicas: [2, 1], addingReplicas: [], removingReplicas: [1], isr: [1, 2], leaderId: -1, addingNotInIsr: [] },
    ]);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TOPIC\s+PARTITION\s+REPLICAS\s+ADDING\s+REMOVING\s+ISR\s+LEADER\s+PROGRESS$/);
    expect(lines[1]).toMatch(/^t\s+0\s+2,3,4,1\s+4\s+1\s+1,2,3\s+1\s+0\/1 added in sync; waiting for 4$/);
    expect(lines[2]).toMatch(/^t\s+1\s+2,1\s+-\s+1\s+1,2\s+none\s+target in sync; completing$/);
    expect(formatReassignments([])).toBe('no reassignments in progress\n');
  });

  it('prints what a drain started', () => {
    expect(formatDrain(3, [])).toBe('broker 3 holds no replicas to move\n');
    const out = formatDrain(3, [{ topic: 't', partition: 2, targetReplicas: [1, 4], leaderId: 1 }]);
    expect(out).toMatch(/^TOPIC\s+PARTITION\s+TARGET-REPLICAS\s+LEADER\nt\s+2\s+1,4\s+1\nstarted 1 reassignment off broker 3;/);
  });
});

describe('usage errors exit with 2 before contacting a cluster', () => {
  it.each([
    [['partition', 'reassign', 't', '0'], /exactly one of --replicas and --cancel/],
    [['partition', 'reassign', 't', '0', '--replicas', '1', '--cancel'], /exactly one of --replicas and --cancel/],
    [['partition', 'reassign', 't'], /TOPIC and PARTITION are required/],
    [['partition', 'reassign', '--plan', 'p.json', 't', '0'], /--plan takes no TOPIC/],
    [['partition', 'reassign', 't', '0', '--replicas', '1,x'], /--replicas expects/],
    [['partition', 'reassign', 't', 'zero', '--replicas', '1'], /PARTITION must be an integer/],
    [['broker', 'drain', 'x'], /ID must be an integer/],
  ])('%j', async (args, message) => {
    const io = capturedIo('', { RIVULET_BOOTSTRAP: '127.0.0.1:1' });
    expect(await runCli(args, io)).toBe(2);
    expect(io.err()).toMatch(message);
  });

  it('a plan file that cannot be read fails with 1 and says why', async () => {
    const io = capturedIo('', { RIVULET_BOOTSTRAP: '127.0.0.1:1' });
    expect(await runCli(['partition', 'reassign', '--plan', '/nonexistent/plan.json'], io)).toBe(1);
    expect(io.err()).toMatch(/INVALID_REQUEST: cannot read the reassignment plan \/nonexistent\/plan.json: ENOENT/);
  });
});
