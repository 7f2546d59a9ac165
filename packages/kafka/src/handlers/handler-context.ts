import type { Broker, BrokerEndpoint } from '@rivulet/broker';
import type { MessageValue } from '../schema/field.js';

/** What a handler needs besides the request: the broker core and who this node says it is. */
export interface HandlerContext {
  readonly broker: Broker;
  readonly nodeId: number;
  readonly clusterId: string;
  /** Host and port clients should connect to for this node. */
  advertisedEndpoint(): { host: string; port: number };
  /** Aborted when the connection closes, so a parked Fetch stops waiting. */
  readonly signal: AbortSignal;
  /** The client's address as Kafka reports it in group descriptions: "/" and the IP. */
  readonly clientHost: string;
  /** The client id of the request's header ('' when the client sent none). */
  readonly clientId: string;
}

/** Maps one decoded request onto the broker; null means "send no response" (Produce acks=0). */
export type Handler = (request: MessageValue, version: number, context: HandlerContext) => Promise<MessageValue | null>;

/** The broker list as clients should see it: this node at its advertised address. */
export function advertisedBrokers(brokers: readonly BrokerEndpoint[], context: HandlerContext): { nodeId: number; host: string; port: number; rack: string | null }[] {
  // A broker without a Kafka listener cannot be reached by Kafka clients: leave it out.
  return brokers.filter((b) => b.nodeId === context.nodeId || b.kafkaPort > 0).map((b) => {
    const isSelf = b.nodeId === context.nodeId;
    const endpoint = isSelf ? context.advertisedEndpoint() : { host: b.host, port: b.kafkaPort };
    return { nodeId: b.nodeId, host: endpoint.host, port: endpoint.port, rack: b.rack === '' ? null : b.rack };
  });
}

/** Kafka's answer for an empty error message: null, not "". */
export function messageOrNull(message: string): string | null {
  return message === '' ? null : message;
}
