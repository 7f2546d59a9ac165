import type { QuorumView } from '@rivulet/client';
import type { ClusterNode } from '@rivulet/testkit';
import type { FaultContext } from './faults.js';

/** Each given controller's own view of the quorum (those that answered within 1.5 s). */
export async function describeQuorumViews(ctx: FaultContext, controllers: readonly ClusterNode[]): Promise<QuorumView[]> {
  const quorum = await ctx.admin.describeQuorum({ controllers: controllers.map((n) => ({ nodeId: n.id, address: n.grpcAddress })), timeoutMs: 1500 });
  return quorum.controllers.flatMap((c) => (c.reachable ? [c.view] : []));
}
