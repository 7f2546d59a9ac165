import { RivuletError } from '@rivulet/common';
import type { controllerApi } from '@rivulet/proto';
import { ControllerChannel } from '@rivulet/transport-grpc';

/** A controller quorum member and the host:port of its gRPC listener. */
export interface ControllerAddress {
  readonly nodeId: number;
  readonly address: string;
}

export interface BrokerEndpointInfo {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** A broker as the controller's metadata registers it. */
export interface BrokerRegistration {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  /** `unfenced`, `fenced` or `shuttingDown`. */
  readonly state: string;
  readonly rack: string;
  readonly endpoints: readonly BrokerEndpointInfo[];
  /** Milliseconds since the active controller last heard from it; -1 when that member does not know. */
  readonly lastHeartbeatAgeMs: number;
}

/** One member's own view of the quorum (DescribeQuorum). */
export interface QuorumView {
  readonly nodeId: number;
  /** -1 when the member knows no leader. */
  readonly leaderId: number;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** `leader`, `follower`, `candidate`, … as the member's Raft core names it. */
  readonly role: string;
  readonly members: readonly ControllerAddress[];
  /** Meaningful on the active controller. */
  readonly brokers: readonly BrokerRegistration[];
  readonly topicCount: number;
  readonly partitionCount: number;
  readonly offlinePartitionCount: number;
  readonly underReplicatedPartitionCount: number;
}

/** What one controller answered, or why it did not. */
export type ControllerStatus =
  | {
      readonly nodeId: number;
      readonly address: string;
      readonly reachable: true;
      readonly view: QuorumView;
      /**
       * The active controller's commit index minus this member's applied index; null when no
       * active controller answered.
       */
      readonly lag: number | null;
    }
  | { readonly nodeId: number; readonly address: string; readonly reachable: false; readonly error: string };

export interface QuorumDescription {
  /** Every controller asked, in id order. */
  readonly controllers: readonly ControllerStatus[];
  /** The active controller's view (the answering leader of the highest term), if one answered. */
  readonly active: QuorumView | undefined;
}

function toView(response: controllerApi.DescribeQuorumResponse): QuorumView {
  return {
    nodeId: response.nodeId,
    leaderId: response.leaderId,
    term: response.term,
    commitIndex: response.commitIndex,
    appliedIndex: response.appliedIndex,
    role: response.role,
    members: response.members.map((m) => ({ nodeId: m.nodeId, address: m.address })),
    brokers: [...response.brokers]
      .sort((a, b) => a.brokerId - b.brokerId)
      .map((b) => ({
        brokerId: b.brokerId,
        brokerEpoch: b.brokerEpoch,
        state: b.state,
        rack: b.rack,
        endpoints: b.endpoints.map((e) => ({ name: e.name, host: e.host, port: e.port })),
        lastHeartbeatAgeMs: b.lastHeartbeatAgeMs,
      })),
    topicCount: response.topicCount,
    partitionCount: response.partitionCount,
    offlinePartitionCount: response.offlinePartitionCount,
    underReplicatedPartitionCount: response.underReplicatedPartitionCount,
  };
}

/**
 * Puts the members' answers together: the active controller is the member that says it leads,
 * in the highest term when (briefly, after a partition) two do; each reachable member's lag is
 * measured against its commit index.
 */
export function summarizeQuorum(
  answers: readonly ({ readonly nodeId: number; readonly address: string } & ({ readonly view: QuorumView } | { readonly error: string }))[],
): QuorumDescription {
  let active: QuorumView | undefined;
  for (const answer of answers) {
    if (!('view' in answer) || answer.view.role !== 'leader') continue;
    if (active === undefined || answer.view.term > active.term) active = answer.view;
  }
  const controllers = [...answers]
    .sort((a, b) => a.nodeId - b.nodeId)
    .map((answer): ControllerStatus =>
      'view' in answer
        ? { nodeId: answer.nodeId, address: answer.address, reachable: true, view: answer.view, lag: active === undefined ? null : Math.max(0, active.commitIndex - answer.view.appliedIndex) }
        : { nodeId: answer.nodeId, address: answer.address, reachable: false, error: answer.error },
    );
  return { controllers, active };
}

/**
 * Asks every controller for its own view of the quorum at once. A member that does not answer
 * within `timeoutMs` (or refuses) is reported unreachable with the reason; the call itself
 * fails only when the list is empty.
 */
export async function describeQuorum(controllers: readonly ControllerAddress[], timeoutMs: number): Promise<QuorumDescription> {
  if (controllers.length === 0) throw new RivuletError('INVALID_REQUEST', 'no controllers to ask: the broker did not name the controller quorum');
  const channel = new ControllerChannel({ controllers: controllers.map((c) => ({ id: c.nodeId, address: c.address })), callTimeoutMs: timeoutMs });
  try {
    const answers = await Promise.all(
      controllers.map(async (c) => {
        try {
          return { ...c, view: toView(await channel.describeQuorum(c.nodeId, timeoutMs)) };
        } catch (error) {
          // grpc-js appends a resolver note to connection failures; the first part says what happened.
          const message = (error instanceof Error ? error.message : String(error)).replace(/\s*Resolution note:.*$/s, '');
          const reason = error instanceof RivuletError ? `${error.errorName}: ${message}` : message;
          return { ...c, error: reason };
        }
      }),
    );
    return summarizeQuorum(answers);
  } finally {
    channel.close();
  }
}
