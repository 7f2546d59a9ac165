import { ErrorCode } from '@rivulet/common';
import { allCompiledApis } from '../schema/api-registry.js';
import type { MessageValue } from '../schema/field.js';

/**
 * The advertised version ranges: every API in the table, from version 0 to the newest we
 * decode. Minimum 0 matters: librdkafka 2.0 enables features (compression codecs, message
 * format v2) only when an API's advertised range covers an old version, and versions we do
 * not serve with data are answered with UNSUPPORTED_VERSION, as Kafka 4.0 does.
 */
export function apiVersionsBody(errorCode: number): MessageValue {
  return {
    errorCode,
    apiKeys: allCompiledApis().map((api) => ({ apiKey: api.spec.apiKey, minVersion: 0, maxVersion: api.maxVersion })),
    throttleTimeMs: 0,
  };
}

export async function handleApiVersions(): Promise<MessageValue> {
  return Promise.resolve(apiVersionsBody(ErrorCode.NONE));
}
