// Membership changes one server at a time (thesis §4.1), learners, and removed nodes.
import { asNodeId } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { ConfigChangeType, decodeConfigChange, encodeConfigChange, invalidConfigChangeReason } from './config-change.js';
import type { ConfigChange } from './config-change.js';
import { TestCluster } from './test-cluster.js';
import type { TestConfig } from './test-cluster.js';
import { EntryKind, RejectReason, Role } from './types.js';

const n = asNodeId;

/** A TestCluster whose driver applies committed config changes, as a real driver must. */
class MembershipCluster extends TestCluster {
  constructor(size: number, config: TestConfig = {}, voters?: number[]) {
    super(size, config, voters);
  }

  override stabilize(): void {
    for (let i = 0; i < 100; i++) {
      super.stabilize();
      if (!this.applyConfigChanges()) return;
    }
  }

  private readonly appliedCount = new Map<number, number>();

  private applyConfigChanges(): boolean {
    let changed = false;
    for (const [id, member] of this.members) {
      const from = this.appliedCount.get(id) ?? 0;
      for (const entry of member.applied.slice(from)) {
        if (entry.kind === EntryKind.ConfigChange) {
          member.node.applyConfigChange(decodeConfigChange(entry.data));
          changed = true;
        }
      }
      this.appliedCount.set(id, member.applied.length);
    }
    return changed;
  }

  change(leader: number, change: ConfigChange): void {
    const result = this.node(leader).proposeConfigChange(change);
    expect(result.accepted).toBe(true);
    this.stabilize();
  }
}

describe('config change encoding', () => {
  it('round-trips every change type', () => {
    for (const type of Object.values(ConfigChangeType)) {
      const change = { type, nodeId: n(70000) };
      expect(decodeConfigChange(encodeConfigChange(change))).toEqual(change);
    }
  });

  it('refuses changes that make no sense', () => {
    const confState = { voters: [n(1)], learners: [n(2)] };
    expect(invalidConfigChangeReason(confState, { type: ConfigChangeType.RemoveNode, nodeId: n(1) })).toMatch(/last voter/);
    expect(invalidConfigChangeReason(confState, { type: ConfigChangeType.AddVoter, nodeId: n(1) })).toMatch(/already a voter/);
    expect(invalidConfigChangeReason(confState, { type: ConfigChangeType.RemoveNode, nodeId: n(3) })).toMatch(/not a member/);
    expect(invalidConfigChangeReason(confState, { type: ConfigChangeType.AddVoter, nodeId: n(2) })).toBeNull();
  });
});

describe('membership changes (thesis §4.1)', () => {
  it('adds a learner that receives the log but does not count for commit, then promotes it', () => {
    const cluster = new MembershipCluster(4, {}, [1, 2, 3]);
    cluster.elect(1);
    cluster.propose(1, 'before');
    cluster.change(1, { type: ConfigChangeType.AddLearner, nodeId: n(4) });
    cluster.propose(1, 'after');
    expect(cluster.node(1).status().confState).toEqual({ voters: [1, 2, 3], learners: [4] });
    expect(cluster.member(4).applied.some((e) => e.kind === EntryKind.Normal)).toBe(true);
    // With two of three voters cut off, the learner's acknowledgement does not commit anything.
    cluster.isolate(2);
    cluster.isolate(3);
    const commitIndex = cluster.node(1).status().commitIndex;
    cluster.node(1).propose(new Uint8Array([1]));
    cluster.stabilize();
    expect(cluster.node(1).status().commitIndex).toBe(commitIndex);
    cluster.heal();
    cluster.stabilize();
    cluster.change(1, { type: ConfigChangeType.AddVoter, nodeId: n(4) });
    expect(cluster.node(4).status().confState).toEqual({ voters: [1, 2, 3, 4], learners: [] });
  });

  it('a learner never campaigns', () => {
    const cluster = new MembershipCluster(4, {}, [1, 2, 3]);
    cluster.elect(1);
    cluster.change(1, { type: ConfigChangeType.AddLearner, nodeId: n(4) });
    cluster.isolate(4);
    for (let i = 0; i < 100; i++) cluster.tick(4);
    expect(cluster.node(4).status()).toMatchObject({ role: Role.Follower, term: cluster.node(1).status().term });
  });

  it('allows one change at a time', () => {
    const cluster = new MembershipCluster(4, {}, [1, 2, 3]);
    cluster.elect(1);
    cluster.isolate(2);
    cluster.isolate(3);
    expect(cluster.node(1).proposeConfigChange({ type: ConfigChangeType.AddLearner, nodeId: n(4) }).accepted).toBe(true);
    expect(cluster.node(1).proposeConfigChange({ type: ConfigChangeType.RemoveNode, nodeId: n(3) })).toMatchObject({
      accepted: false,
      reason: RejectReason.ConfigChangePending,
    });
  });

  it('a removed voter stops counting, and the rest keep committing without it', () => {
    const cluster = new MembershipCluster(3);
    cluster.elect(1);
    cluster.change(1, { type: ConfigChangeType.RemoveNode, nodeId: n(3) });
    expect(cluster.node(1).status().confState.voters).toEqual([1, 2]);
    cluster.isolate(3);
    cluster.propose(1, 'two voters');
    expect(cluster.member(2).applied.map((e) => e.kind)).toContain(EntryKind.Normal);
  });

  it('a removed node that keeps ticking does not disturb the remaining cluster', () => {
    const cluster = new MembershipCluster(3);
    cluster.elect(1);
    cluster.change(1, { type: ConfigChangeType.RemoveNode, nodeId: n(3) });
    const term = cluster.node(1).status().term;
    cluster.tickAll(100);
    expect(cluster.leaders()).toEqual([1]);
    expect(cluster.node(1).status().term).toBe(term);
  });

  it('a leader that removes itself steps down, and the others elect a new leader', () => {
    const cluster = new MembershipCluster(3);
    cluster.elect(1);
    cluster.change(1, { type: ConfigChangeType.RemoveNode, nodeId: n(1) });
    expect(cluster.node(1).status().role).toBe(Role.Follower);
    cluster.tickAll(40);
    const leaders = cluster.leaders();
    expect(leaders).toHaveLength(1);
    expect(leaders[0]).not.toBe(1);
  });
});
