import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RAFT_NODE_BIN, RaftNodeProcess, freePort, waitFor } from '@rivulet/testkit';

// Three Raft members as separate processes on loopback (LevelDB in temporary directories,
// gRPC between them). A client keeps proposing while the leader is killed with SIGKILL; a
// new leader must be elected and every acknowledged proposal must survive. The killed
// member then restarts far behind a compacted log and must catch up through a snapshot.

const SNAPSHOT_EVERY = 20;
const SNAPSHOT_TAIL = 5;

describe('a 3-member Raft quorum as real processes', () => {
  let dataRoot = '';
  let nodes: RaftNodeProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(RAFT_NODE_BIN)) throw new Error(`${RAFT_NODE_BIN} is missing: run npx tsc -b first`);
    dataRoot = await mkdtemp(join(tmpdir(), 'raft-cluster-'));
  });

  afterEach(async () => {
    for (const node of nodes) await node.kill();
    nodes = [];
  });

  afterAll(async () => {
    for (const node of nodes) await node.kill();
    if (dataRoot !== '') await rm(dataRoot, { recursive: true, force: true });
  });

  async function leaderAmong(candidates: RaftNodeProcess[], minTerm = 0): Promise<RaftNodeProcess> {
    return waitFor(
      'a leader that every live member follows',
      async () => {
        const statuses = await Promise.all(candidates.map((node) => node.status()));
        const leader = statuses.find((s) => s.role === 'leader' && s.term > minTerm);
        if (leader === undefined || !statuses.every((s) => s.leaderId === leader.id && s.term === leader.term)) return undefined;
        return candidates.find((node) => node.id === leader.id);
      },
      15_000,
    );
  }

  it('survives kill -9 of the leader without losing an acknowledged entry, and a restarted member catches up through a snapshot', async () => {
    const ports = await Promise.all([1, 2, 3].map(() => freePort()));
    const peers = ports.map((port, i) => `${i + 1}@127.0.0.1:${port}`).join(',');
    nodes = ports.map(
      (_, i) =>
        new RaftNodeProcess(i + 1, [
          '--id', String(i + 1), '--peers', peers, '--data-dir', join(dataRoot, `node-${i + 1}`),
          '--tick-ms', '50', '--election-ticks', '10', '--snapshot-every', String(SNAPSHOT_EVERY), '--snapshot-tail', String(SNAPSHOT_TAIL),
          '--log-level', 'warn',
        ]),
    );
    await Promise.all(nodes.map((node) => node.start()));
    const firstLeader = await leaderAmong(nodes);
    const firstTerm = (await firstLeader.status()).term;

    // A client proposing without pause, following leader hints; it records every acknowledgement.
    const acknowledged = new Map<string, string>();
    let stopProposing = false;
    let target = firstLeader;
    let sequence = 0;
    const proposer = (async () => {
      while (!stopProposing) {
        const key = `k${sequence}`;
        const value = `v${sequence}`;
        sequence++;
        try {
          const result = await target.propose(key, value);
          if (result.ok) acknowledged.set(key, value);
          else {
            const hinted = nodes.find((node) => node.id === result.leaderId && node.isRunning);
            if (hinted !== undefined) target = hinted;
            else await new Promise((resolve) => setTimeout(resolve, 50));
          }
        } catch {
          // The target died or timed out: ask the others who leads.
          const live = nodes.filter((node) => node.isRunning);
          if (live.length > 0) target = live[sequence % live.length]!;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    })();

    // Whatever fails below, the proposer stops before the test ends (no loop left running).
    let newLeader: RaftNodeProcess;
    try {
      await waitFor('30 acknowledged proposals', () => (acknowledged.size >= 30 ? true : undefined), 15_000);
      await firstLeader.kill();
      const survivors = nodes.filter((node) => node !== firstLeader);
      newLeader = await leaderAmong(survivors, firstTerm);
      // Enough new entries that the survivors snapshot and compact past everything the killed
      // member holds, so it can only catch up through a snapshot.
      const ackedAtFailover = acknowledged.size;
      await waitFor('proposals acknowledged by the new leader', () => (acknowledged.size >= ackedAtFailover + 3 * SNAPSHOT_EVERY ? true : undefined), 20_000);
    } finally {
      stopProposing = true;
      await proposer;
    }

    const leaderState = await newLeader.state(true);
    for (const [key, value] of acknowledged) expect(leaderState.values[key], `acknowledged ${key} lost`).toBe(value);
    const leaderStatus = await newLeader.status();
    expect(leaderStatus.snapshotsTaken).toBeGreaterThan(0);

    await firstLeader.start();
    const caughtUp = await waitFor(
      'the restarted member to catch up',
      async () => {
        const status = await firstLeader.status();
        return status.appliedIndex >= leaderStatus.commitIndex && status.leaderId === newLeader.id ? status : undefined;
      },
      20_000,
    );
    // Its log ended before the leader's compaction point: only a snapshot could bring it here.
    expect(caughtUp.snapshotsInstalled).toBeGreaterThanOrEqual(1);
    const restartedState = await firstLeader.state(true);
    for (const [key, value] of acknowledged) expect(restartedState.values[key], `restarted member misses ${key}`).toBe(value);
    expect(restartedState.values).toEqual((await newLeader.state(true)).values);
  });
});
