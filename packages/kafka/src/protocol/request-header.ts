import type { WireReader } from '../wire/wire-reader.js';

/*
 * Request header, after the int32 frame size:
 *
 *   v1: api_key int16 | api_version int16 | correlation_id int32 | client_id nullable string (int16 length)
 *   v2: v1 followed by a tagged-field section (uvarint count, then tag/size/value each)
 *
 * client_id stays a classic int16-prefixed string even in v2, as KIP-482 kept it.
 */
export interface RequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
}

/** api_key, api_version and correlation_id: what any reply, even an error, needs. */
export const REQUEST_HEADER_PREFIX_BYTES = 8;

export function readRequestHeaderPrefix(reader: WireReader): { apiKey: number; apiVersion: number; correlationId: number } {
  return { apiKey: reader.int16(), apiVersion: reader.int16(), correlationId: reader.int32() };
}

export function readRequestHeaderRest(reader: WireReader, headerVersion: 1 | 2): string | null {
  const lengthBytes = reader.int16();
  const clientId = lengthBytes < 0 ? null : reader.stringOfLength(lengthBytes);
  if (headerVersion === 2) skipTaggedFields(reader);
  return clientId;
}

function skipTaggedFields(reader: WireReader): void {
  const count = reader.uvarint();
  reader.checkArrayCount(count);
  for (let i = 0; i < count; i++) {
    reader.uvarint();
    reader.skip(reader.uvarint());
  }
}
