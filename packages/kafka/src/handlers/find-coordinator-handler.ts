import { ErrorCode } from '@rivulet/common';
import type { MessageValue } from '../schema/field.js';

interface FindCoordinatorRequestBody {
  key: string;
  coordinatorKeys: string[];
}

/**
 * FindCoordinator is advertised only because librdkafka treats it as the marker of a broker
 * new enough for LZ4; consumer groups and transactions do not exist yet, so every lookup is
 * answered UNSUPPORTED_VERSION, which clients report instead of retrying forever.
 */
export async function handleFindCoordinator(request: MessageValue, version: number): Promise<MessageValue> {
  const body = request as unknown as FindCoordinatorRequestBody;
  const message = 'consumer groups and transactions are not supported yet';
  const errorCode = ErrorCode.UNSUPPORTED_VERSION;
  if (version < 4) return Promise.resolve({ throttleTimeMs: 0, errorCode, errorMessage: message });
  return Promise.resolve({ throttleTimeMs: 0, coordinators: body.coordinatorKeys.map((key) => ({ key, errorCode, errorMessage: message })) });
}
