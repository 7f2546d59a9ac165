import { ErrorCode } from '@rivulet/common';
import type { MessageValue } from '../schema/field.js';
import { messageOrNull, type HandlerContext } from './handler-context.js';

interface AlterPartitionReassignmentsBody {
  topics: { name: string; partitions: { partitionIndex: number; replicas: number[] | null }[] }[];
}

/**
 * AlterPartitionReassignments (KIP-455): a replica list starts or replaces a partition's
 * reassignment, null cancels it; each partition is answered on its own, as the controller
 * decided it.
 */
export async function handleAlterPartitionReassignments(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as AlterPartitionReassignmentsBody;
  const partitions = body.topics.flatMap((t) =>
    t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, targetReplicas: p.replicas ?? [], cancel: p.replicas === null })),
  );
  const results = partitions.length === 0 ? [] : await context.broker.alterPartitionReassignments(partitions);
  let index = 0;
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    errorMessage: null,
    responses: body.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const result = results[index++]!;
        return { partitionIndex: p.partitionIndex, errorCode: result.errorCode, errorMessage: messageOrNull(result.errorMessage) };
      }),
    })),
  };
}

interface ListPartitionReassignmentsBody {
  topics: { name: string; partitionIndexes: number[] }[] | null;
}

/**
 * ListPartitionReassignments: the reassignments in progress, of every topic (null) or of the
 * named partitions. An unknown topic fails the whole request, as in Kafka.
 */
export async function handleListPartitionReassignments(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as ListPartitionReassignmentsBody;
  const names = body.topics === null ? [] : [...new Set(body.topics.map((t) => t.name))];
  const listed = await context.broker.listPartitionReassignments(names);
  const failed = listed.topicErrors.find((t) => t.errorCode !== 0);
  if (failed !== undefined) return { throttleTimeMs: 0, errorCode: failed.errorCode || ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: failed.errorMessage, topics: [] };
  const wanted = body.topics === null ? undefined : new Set(body.topics.flatMap((t) => t.partitionIndexes.map((p) => `${t.name}\u0000${p}`)));
  const byTopic = new Map<string, MessageValue[]>();
  for (const r of listed.reassignments) {
    if (wanted !== undefined && !wanted.has(`${r.topic}\u0000${r.partition}`)) continue;
    const list = byTopic.get(r.topic) ?? [];
    list.push({ partitionIndex: r.partition, replicas: r.replicas, addingReplicas: r.addingReplicas, removingReplicas: r.removingReplicas });
    byTopic.set(r.topic, list);
  }
  return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
}
