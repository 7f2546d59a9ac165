import type { Broker } from '@rivulet/broker';
import type { Logger } from '@rivulet/common';
import { clientApi } from '@rivulet/proto';
import { answerInOrder, type ServiceHandlers } from '@rivulet/transport-grpc';
import { groupApiHandlers } from './group-api-service.js';
import type { NodeMetrics } from './metrics.js';

type Handlers = ServiceHandlers<typeof clientApi.ClientApiService>;

/** Produce requests of one ProduceStream being worked on at once; the stream is read no further meanwhile. */
const PRODUCE_STREAM_IN_FLIGHT_MAX = 64;

/**
 * The gRPC client API front-end. The broker core's request and response shapes mirror the
 * protobuf messages, so requests pass straight through; this layer only adds metrics and
 * byte accounting, and the controller quorum (`controllers`, read at each call: a quorum of
 * itself knows its port only once it listens) to DescribeCluster. Consumer-group RPCs are in
 * group-api-service.ts.
 */
export function clientApiHandlers(broker: Broker, metrics: NodeMetrics, logger: Logger, controllers: () => readonly clientApi.ControllerInfo[] = () => []): Handlers {
  const countFetched = (response: { topics: { name: string; partitions: { records: Buffer }[] }[] }): void => {
    for (const topic of response.topics) {
      const bytes = topic.partitions.reduce((sum, p) => sum + p.records.length, 0);
      if (bytes > 0) metrics.bytesOut.inc({ topic: topic.name }, bytes);
    }
  };
  const produce = (request: clientApi.ProduceRequest): Promise<clientApi.ProduceResponse> =>
    metrics.observe('produce', async () => {
      for (const topic of request.topics) {
        const bytes = topic.partitions.reduce((sum, p) => sum + p.records.length, 0);
        metrics.bytesIn.inc({ topic: topic.name }, bytes);
      }
      if (request.acks !== 0) return broker.produce(request);
      // acks=0: the producer does not wait; failures are only visible in the broker's logs and metrics.
      void broker.produce(request).catch((err: unknown) => logger.debug({ err }, 'acks=0 produce failed'));
      return { topics: [] };
    });
  return {
    getMetadata: (request) => metrics.observe('metadata', () => broker.metadata(request)),
    createTopics: (request) =>
      metrics.observe('create_topics', async () => ({ results: await broker.createTopics(request.topics, request.validateOnly) })),
    deleteTopics: (request) => metrics.observe('delete_topics', async () => ({ results: await broker.deleteTopics(request.names) })),
    createPartitions: (request) => metrics.observe('create_partitions', async () => ({ results: await broker.createPartitions(request.topics, request.validateOnly) })),
    alterTopicConfigs: (request) =>
      metrics.observe('alter_topic_configs', async () => ({
        results: await broker.alterTopicConfigs(
          request.topics.map((t) => ({ name: t.name, changes: t.changes.map((c) => ({ key: c.key, value: c.remove ? null : c.value })) })),
          request.validateOnly,
        ),
      })),
    describeTopics: (request) => metrics.observe('describe_topics', async () => ({ topics: broker.describeTopics(request.names) })),
    produce,
    // Each request starts as it arrives (appends keep the requests' order); answers go out in order.
    produceStream: answerInOrder(
      async (request): Promise<clientApi.ProduceStreamResponse> => ({ response: await produce(request), errorCode: 0, errorMessage: '', leaderId: -1 }),
      (err) => ({ response: { topics: [] }, errorCode: err.code, errorMessage: err.message, leaderId: err.context.leaderId ?? -1 }),
      PRODUCE_STREAM_IN_FLIGHT_MAX,
    ),
    fetch: (request, signal) =>
      metrics.observe('fetch', async () => {
        const response = await broker.fetch(request, signal);
        countFetched(response);
        return response;
      }),
    fetchStream: (request, write, signal) =>
      metrics.observe('fetch_stream', () =>
        broker.fetchStream(
          request,
          (response) => {
            countFetched(response);
            return write(response);
          },
          signal,
        ),
      ),
    listOffsets: (request) => metrics.observe('list_offsets', () => broker.listOffsets(request)),
    deleteRecords: (request) => metrics.observe('delete_records', () => broker.deleteRecords(request)),
    alterPartitionReassignments: (request) =>
      metrics.observe('alter_partition_reassignments', async () => ({ results: await broker.alterPartitionReassignments(request.partitions) })),
    listPartitionReassignments: (request) => metrics.observe('list_partition_reassignments', () => broker.listPartitionReassignments(request.topics)),
    drainBroker: (request) => metrics.observe('drain_broker', () => broker.drainBroker(request.brokerId)),
    describeCluster: () => metrics.observe('describe_cluster', async () => ({ ...broker.describeCluster(), controllers: [...controllers()] })),
    ...groupApiHandlers(broker, metrics),
  };
}
