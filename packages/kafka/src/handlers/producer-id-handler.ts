import { AssertionError, RivuletError } from '@rivulet/common';
import type { MessageValue } from '../schema/field.js';
import type { HandlerContext } from './handler-context.js';

interface InitProducerIdRequestBody {
  transactionalId: string | null;
  transactionTimeoutMs: number;
  producerId: number;
  producerEpoch: number;
}

/**
 * InitProducerId: a producer id unique in the cluster with epoch 0 for an idempotent producer
 * (see Broker.initProducerId); a refusal travels in ErrorCode with id and epoch -1, the only
 * place this response carries errors.
 */
export async function handleInitProducerId(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as InitProducerIdRequestBody;
  try {
    const answer = await context.broker.initProducerId({ transactionalId: body.transactionalId, producerId: body.producerId, producerEpoch: body.producerEpoch });
    return { throttleTimeMs: 0, errorCode: 0, producerId: answer.producerId, producerEpoch: answer.producerEpoch };
  } catch (err) {
    if (err instanceof AssertionError || !(err instanceof RivuletError)) throw err;
    return { throttleTimeMs: 0, errorCode: err.code, producerId: -1, producerEpoch: -1 };
  }
}
