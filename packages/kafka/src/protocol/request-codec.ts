import { ErrorCode, RivuletError } from '@rivulet/common';
import { apiVersionsBody } from '../handlers/api-versions-handler.js';
import { compiledApi, requestHeaderVersion, responseHeaderVersion, type CompiledApi } from '../schema/api-registry.js';
import { ApiKey } from '../schema/api-table.js';
import { decodeMessage, encodeMessage } from '../schema/codec.js';
import { inRange, type MessageValue } from '../schema/field.js';
import { WireReader } from '../wire/wire-reader.js';
import { WireWriter } from '../wire/wire-writer.js';
import { readRequestHeaderPrefix, readRequestHeaderRest, type RequestHeader } from './request-header.js';

/**
 * One decoded request frame, and what to do with it:
 *   serve               decode succeeded for a version we answer with data
 *   unsupported         a version we decode but do not serve (old message formats)
 *   apiVersionsTooNew   ApiVersions newer than we know: answer v0 with UNSUPPORTED_VERSION
 */
export interface DecodedRequest {
  readonly header: RequestHeader;
  readonly api: CompiledApi;
  readonly body: MessageValue;
  readonly disposition: 'serve' | 'unsupported' | 'apiVersionsTooNew';
}

/**
 * Decodes one frame (without its size prefix). Throws RivuletError INVALID_REQUEST for an
 * unknown API key, a version outside the table (except ApiVersions) or a malformed body;
 * the connection then closes, as Kafka closes it.
 */
export function decodeRequestFrame(frame: Buffer): DecodedRequest {
  const reader = new WireReader(frame);
  const prefix = readRequestHeaderPrefix(reader);
  const api = compiledApi(prefix.apiKey);
  if (!api) throw new RivuletError('INVALID_REQUEST', `unknown API key ${prefix.apiKey}`);
  if (prefix.apiVersion > api.maxVersion && prefix.apiKey === ApiKey.ApiVersions) {
    return { header: { ...prefix, clientId: null }, api, body: {}, disposition: 'apiVersionsTooNew' };
  }
  if (prefix.apiVersion < api.minVersion || prefix.apiVersion > api.maxVersion) {
    throw new RivuletError('INVALID_REQUEST', `unsupported version ${prefix.apiVersion} of API ${api.spec.name}`);
  }
  const clientId = readRequestHeaderRest(reader, requestHeaderVersion(api, prefix.apiVersion));
  const body = decodeMessage(api.requests[prefix.apiVersion]!, reader);
  const disposition = inRange(api.spec.servedVersions, prefix.apiVersion) ? 'serve' : 'unsupported';
  return { header: { ...prefix, clientId }, api, body, disposition };
}

/**
 * Encodes a response frame: `size int32 | correlation_id int32 | [tagged fields] | body`.
 * Response header v1 (flexible versions) adds the empty tagged-field section.
 */
export function encodeResponseFrame(api: CompiledApi, version: number, correlationId: number, body: MessageValue): Buffer[] {
  const writer = new WireWriter();
  writer.int32(0);
  writer.int32(correlationId);
  if (responseHeaderVersion(api, version) === 1) writer.uvarint(0);
  encodeMessage(api.responses[version]!, body, writer);
  const sizeBytes = writer.sizeBytes - 4;
  const chunks = writer.finish();
  chunks[0]!.writeInt32BE(sizeBytes, 0);
  return chunks;
}

/** ApiVersions newer than ours is answered in v0 with UNSUPPORTED_VERSION and our ranges. */
export function encodeApiVersionsTooNew(api: CompiledApi, correlationId: number): Buffer[] {
  return encodeResponseFrame(api, 0, correlationId, apiVersionsBody(ErrorCode.UNSUPPORTED_VERSION));
}
