import { ErrorCode } from '@rivulet/common';
import type { MessageValue } from '../schema/field.js';
import type { HandlerContext } from './handler-context.js';

interface ListOffsetsRequestBody {
  topics: { name: string; partitions: { partitionIndex: number; timestamp: number }[] }[];
}

/** ListOffsets: earliest (-2), latest (-1) or by timestamp. v0 answers in its old offsets array. */
export async function handleListOffsets(request: MessageValue, version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as ListOffsetsRequestBody;
  const response = await context.broker.listOffsets({
    topics: body.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partitionIndex, timestamp: p.timestamp })) })),
  });
  return {
    throttleTimeMs: 0,
    topics: response.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({
        partitionIndex: p.partition,
        errorCode: p.errorCode,
        oldStyleOffsets: version === 0 && p.offset >= 0 ? [p.offset] : [],
        timestamp: p.timestamp,
        offset: p.offset,
        leaderEpoch: -1,
      })),
    })),
  };
}

interface DeleteRecordsRequestBody {
  topics: { name: string; partitions: { partitionIndex: number; offset: number }[] }[];
  timeoutMs: number;
}

/** DeleteRecords: moves each partition's log start offset forward. */
export async function handleDeleteRecords(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as DeleteRecordsRequestBody;
  const response = await context.broker.deleteRecords({
    timeoutMs: body.timeoutMs,
    topics: body.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partitionIndex, offset: p.offset })) })),
  });
  return {
    throttleTimeMs: 0,
    topics: response.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, lowWatermark: p.lowWatermark, errorCode: p.errorCode })),
    })),
  };
}

interface OffsetForLeaderEpochRequestBody {
  topics: { topic: string; partitions: { partition: number; currentLeaderEpoch: number; leaderEpoch: number }[] }[];
}

/**
 * OffsetForLeaderEpoch: for now every partition has had one leader epoch, so the end of any
 * asked epoch is the log end offset. A current leader epoch that differs from the partition's
 * is fenced (older) or unknown (newer), so the client refreshes its metadata.
 */
export async function handleOffsetForLeaderEpoch(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as OffsetForLeaderEpochRequestBody;
  const descriptions = new Map(context.broker.describeTopics([...new Set(body.topics.map((t) => t.topic))]).map((d) => [d.name, d]));
  return Promise.resolve({
    throttleTimeMs: 0,
    topics: body.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p): MessageValue => {
        const described = descriptions.get(t.topic)?.partitions.find((d) => d.partition === p.partition);
        if (!described) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partition: p.partition };
        if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch < described.leaderEpoch) return { errorCode: ErrorCode.FENCED_LEADER_EPOCH, partition: p.partition };
        if (p.currentLeaderEpoch > described.leaderEpoch) return { errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH, partition: p.partition };
        // An epoch newer than any this partition had has no end offset (Kafka's UNDEFINED_EPOCH_OFFSET).
        if (p.leaderEpoch > described.leaderEpoch) return { errorCode: 0, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
        return { errorCode: 0, partition: p.partition, leaderEpoch: described.leaderEpoch, endOffset: described.logEndOffset };
      }),
    })),
  });
}
