import { ErrorCode, RivuletError, assert } from '@rivulet/common';
import type { ProduceResponse } from '@rivulet/broker';
import type { MessageValue } from '../schema/field.js';
import { messageOrNull, type HandlerContext } from './handler-context.js';

interface ProduceRequestBody {
  acks: number;
  timeoutMs: number;
  topicData: { name: string; partitionData: { index: number; records: Buffer | null }[] }[];
}

const EMPTY = Buffer.alloc(0);

/**
 * Produce: record batches pass to the broker untouched. acks=0 gets no response at all, as
 * Kafka does; the client does not read one. A request-level failure (bad acks) is reported on
 * every partition, the only place Produce responses carry errors.
 */
export async function handleProduce(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue | null> {
  const body = request as unknown as ProduceRequestBody;
  const topics = body.topicData.map((t) => ({ name: t.name, partitions: t.partitionData.map((p) => ({ partition: p.index, records: p.records ?? EMPTY })) }));
  let response: ProduceResponse;
  try {
    response = await context.broker.produce({ acks: body.acks, timeoutMs: body.timeoutMs, topics });
  } catch (err) {
    if (!(err instanceof RivuletError)) throw err;
    return body.acks === 0 ? null : produceErrorResponse(request, err.code, err.message);
  }
  if (body.acks === 0) return null;
  return {
    throttleTimeMs: 0,
    responses: response.topics.map((t) => ({
      name: t.name,
      partitionResponses: t.partitions.map((p) => ({
        index: p.partition,
        errorCode: p.errorCode,
        baseOffset: p.baseOffset,
        logAppendTimeMs: p.logAppendTimeMs,
        logStartOffset: p.logStartOffset,
        recordErrors: [],
        errorMessage: messageOrNull(p.errorMessage),
      })),
    })),
  };
}

/** Every partition of the request answered with one error code. */
export function produceErrorResponse(request: MessageValue, errorCode: number, message: string | null): MessageValue {
  assert(errorCode !== ErrorCode.NONE, 'an error response carries an error');
  const body = request as unknown as ProduceRequestBody;
  return {
    throttleTimeMs: 0,
    responses: body.topicData.map((t) => ({
      name: t.name,
      partitionResponses: t.partitionData.map((p) => ({ index: p.index, errorCode, baseOffset: -1, errorMessage: message })),
    })),
  };
}
