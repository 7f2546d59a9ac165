import { commitOffsetsOfKnownPartitions, type Broker, type BrokerEndpoint, type GroupCoordinatorApi, type OffsetCommitRequest, type TopicDescription } from '@rivulet/broker';
import { routeRequest } from '../handlers/request-router.js';
import type { HandlerContext } from '../handlers/handler-context.js';
import { compiledApi } from '../schema/api-registry.js';
import { decodeMessage, encodeMessage, type CompiledStruct } from '../schema/codec.js';
import type { MessageValue } from '../schema/field.js';
import { WireReader } from '../wire/wire-reader.js';
import { WireWriter } from '../wire/wire-writer.js';

/*
 * A harness for the group handlers' unit tests: a fake coordinator that records what the
 * handlers ask and answers what a test tells it, a fake broker around it, and a call that passes
 * request and response through the wire codec of the version under test, so a test sees what a
 * client of that version would send and receive.
 */

type Method = keyof GroupCoordinatorApi;

/** A coordinator that records each call's argument; a method a test did not give fails the test. */
export class FakeGroups {
  readonly calls: { method: Method; argument: unknown }[] = [];
  readonly api: GroupCoordinatorApi;

  constructor(answers: Partial<GroupCoordinatorApi>) {
    const methods: Method[] = ['partitionFor', 'beginLoading', 'replay', 'finishLoading', 'unload', 'joinGroup', 'syncGroup', 'heartbeat', 'leaveGroup', 'commitOffsets', 'fetchOffsets', 'describeGroups', 'listGroups', 'deleteGroups', 'close'];
    const api: Record<string, (argument: unknown) => unknown> = {};
    for (const method of methods) {
      api[method] = (argument: unknown) => {
        this.calls.push({ method, argument });
        const answer = answers[method] as ((argument: unknown) => unknown) | undefined;
        if (answer === undefined) throw new Error(`unexpected call of groups.${method}`);
        return answer(argument);
      };
    }
    this.api = api as unknown as GroupCoordinatorApi;
  }

  /** The arguments of every call of `method`, in order. */
  argumentsOf(method: Method): unknown[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.argument);
  }
}

export interface FakeBrokerOptions {
  /** The coordinator node of every group, or the error findGroupCoordinator rejects with. */
  findGroupCoordinator?: (groupId: string) => Promise<number>;
  brokers?: BrokerEndpoint[];
  /** Topic name to partition count; any other topic is unknown. */
  topics?: Record<string, number>;
}

export const SELF_NODE_ID = 1;

/** A HandlerContext on a fake broker: the handlers' only view of the broker. */
export function fakeContext(groups: FakeGroups, options: FakeBrokerOptions = {}): HandlerContext {
  const topics = options.topics ?? {};
  const broker = {
    groups: groups.api,
    commitGroupOffsets: (request: OffsetCommitRequest) => commitOffsetsOfKnownPartitions(groups.api, (topic, partition) => partition < (topics[topic] ?? 0), request),
    findGroupCoordinator: options.findGroupCoordinator ?? (() => Promise.resolve(SELF_NODE_ID)),
    describeCluster: () => ({ clusterId: 'test-cluster', controllerId: SELF_NODE_ID, brokers: options.brokers ?? [] }),
    describeTopics: (names: string[]): TopicDescription[] =>
      names.map((name) => {
        const count = topics[name];
        if (count === undefined) return { name, errorCode: 3, errorMessage: `topic ${name} does not exist`, isInternal: false, configs: {}, partitions: [] };
        const partitions = Array.from({ length: count }, (_, partition) => ({ partition, leaderId: SELF_NODE_ID, leaderEpoch: 0, replicas: [SELF_NODE_ID], isr: [SELF_NODE_ID], logStartOffset: 0, highWatermark: 0, logEndOffset: 0, sizeBytes: 0 }));
        return { name, errorCode: 0, errorMessage: '', isInternal: false, configs: {}, partitions };
      }),
  };
  return {
    broker: broker as unknown as Broker,
    nodeId: SELF_NODE_ID,
    clusterId: 'test-cluster',
    advertisedEndpoint: () => ({ host: 'self.example', port: 9092 }),
    signal: new AbortController().signal,
    clientId: 'client-a',
    clientHost: '/10.0.0.7',
  };
}

/** Encodes a value with one version's codec and decodes it back: what the other side reads. */
export function throughWire(struct: CompiledStruct, value: MessageValue): MessageValue {
  const writer = new WireWriter();
  encodeMessage(struct, value, writer);
  return decodeMessage(struct, new WireReader(Buffer.concat(writer.finish())));
}

/** The request as a client of `version` sends it, through the router, and the response as that client reads it. */
export async function callApi(apiKey: number, version: number, request: MessageValue, context: HandlerContext): Promise<MessageValue> {
  const api = compiledApi(apiKey)!;
  const response = await routeRequest(apiKey, throughWire(api.requests[version]!, request), version, context);
  return throughWire(api.responses[version]!, response!);
}
