import { ErrorCode } from '@rivulet/common';
import type { MessageValue } from '../schema/field.js';
import { advertisedBrokers, messageOrNull, type HandlerContext } from './handler-context.js';
import { ZERO_UUID, topicIdBytes, topicIdText } from './topic-ids.js';

interface MetadataRequestBody {
  topics: { name: string | null; topicId?: Buffer }[] | null;
  allowAutoTopicCreation: boolean;
}

/**
 * Metadata: brokers, cluster id, controller and the partitions of the asked topics. A null
 * topic list (v1+) or an empty one in v0 means every topic; an empty list in v1+ means none.
 * v10+ carries topic ids, and a v12 request may name a topic by id alone.
 */
export async function handleMetadata(request: MessageValue, version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as MetadataRequestBody;
  const wantsAll = body.topics === null || (version === 0 && body.topics.length === 0);
  const wantsNone = !wantsAll && body.topics!.length === 0;
  const requested = wantsAll ? [] : body.topics!.map((t) => ({ name: t.name ?? (t.topicId ? context.broker.topicNameById(topicIdText(t.topicId) ?? '') : undefined), topicId: t.topicId }));
  const unknownIds = requested.filter((t) => t.name === undefined);
  const names = requested.flatMap((t) => (t.name === undefined ? [] : [t.name]));
  const response = await context.broker.metadata({ topics: names, allowAutoTopicCreation: body.allowAutoTopicCreation });
  const topics = wantsNone || (!wantsAll && names.length === 0) ? [] : response.topics;
  return {
    throttleTimeMs: 0,
    brokers: advertisedBrokers(response.brokers, context),
    clusterId: response.clusterId,
    controllerId: response.controllerId,
    topics: [
      ...unknownIds.map((t) => ({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId: t.topicId ?? ZERO_UUID, isInternal: false, partitions: [] })),
      ...topics.map((t) => ({
        errorCode: t.errorCode,
        name: t.name,
        topicId: topicIdBytes(t.topicId),
        isInternal: t.isInternal,
        partitions: t.partitions.map((p) => ({
          errorCode: p.errorCode,
          partitionIndex: p.partition,
          leaderId: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          replicaNodes: p.replicas,
          isrNodes: p.isr,
          offlineReplicas: [],
        })),
      })),
    ],
  };
}

interface DescribeClusterRequestBody {
  endpointType: number;
}

const ENDPOINT_TYPE_BROKERS = 1;

/** DescribeCluster: the brokers' endpoints (controllers are not reachable over Kafka here). */
export async function handleDescribeCluster(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as DescribeClusterRequestBody;
  const cluster = context.broker.describeCluster();
  if (body.endpointType !== ENDPOINT_TYPE_BROKERS) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'only broker endpoints can be described', endpointType: body.endpointType, clusterId: cluster.clusterId, brokers: [] };
  }
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    errorMessage: messageOrNull(''),
    endpointType: ENDPOINT_TYPE_BROKERS,
    clusterId: cluster.clusterId,
    controllerId: cluster.controllerId,
    brokers: advertisedBrokers(cluster.brokers, context).map((b) => ({ brokerId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
  };
}
