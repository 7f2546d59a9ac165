import { assert } from '@rivulet/common';
import { ByteReader, varintSizeBytes, varlongSizeBytes, writeVarint, writeVarlong } from './varint.js';

/*
 * One record inside a RecordBatch v2 (all integers zigzag varints):
 *
 *   Record =>
 *     length          varint   bytes of everything below
 *     attributes      int8     unused, 0
 *     timestampDelta  varlong  timestamp - batch baseTimestamp
 *     offsetDelta     varint   offset - batch baseOffset
 *     keyLength       varint   -1 for a null key
 *     key             bytes
 *     valueLength     varint   -1 for a null value
 *     value           bytes
 *     headerCount     varint
 *     Header =>
 *       headerKeyLength    varint   never -1
 *       headerKey          UTF-8 string
 *       headerValueLength  varint   -1 for a null value
 *       headerValue        bytes
 */

export interface RecordHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

/** A record as the producer hands it to `encodeRecordBatch`. */
export interface RecordInput {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: readonly RecordHeader[];
  /** Create time in ms since the epoch; the batch's `nowMs` when absent. */
  readonly timestampMs?: number;
  /** Position within the batch; the record's index when absent. Must increase strictly. */
  readonly offsetDelta?: number;
}

/** A record as decoding returns it. Key, value and header values are views into the batch bytes. */
export interface DecodedRecord {
  /** Absolute offset: the batch's baseOffset + offsetDelta. */
  readonly offset: number;
  /** Create time from the record, or the batch's maxTimestamp under log-append time. */
  readonly timestampMs: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
}

/** attributes + timestampDelta + offsetDelta + keyLength + valueLength + headerCount, 1 byte each at least. */
export const RECORD_BODY_BYTES_MIN = 6;
/** The smallest record on the wire: a 1-byte length plus the smallest body. */
export const RECORD_BYTES_MIN = 1 + RECORD_BODY_BYTES_MIN;
/** The smallest header: a 1-byte key length and a 1-byte value length. */
const HEADER_BYTES_MIN = 2;

function nullableBytesSizeBytes(bytes: Buffer | null): number {
  return bytes === null ? 1 : varintSizeBytes(bytes.length) + bytes.length;
}

/** Size of a record's body (everything after its length prefix). */
export function recordBodySizeBytes(record: RecordInput, timestampDelta: number, offsetDelta: number): number {
  let sizeBytes = 1 + varlongSizeBytes(timestampDelta) + varintSizeBytes(offsetDelta);
  sizeBytes += nullableBytesSizeBytes(record.key) + nullableBytesSizeBytes(record.value);
  const headers = record.headers ?? [];
  sizeBytes += varintSizeBytes(headers.length);
  for (const header of headers) {
    const keyBytes = Buffer.byteLength(header.key, 'utf8');
    sizeBytes += varintSizeBytes(keyBytes) + keyBytes + nullableBytesSizeBytes(header.value);
  }
  return sizeBytes;
}

function writeNullableBytes(buf: Buffer, at: number, bytes: Buffer | null): number {
  if (bytes === null) return writeVarint(buf, at, -1);
  const pos = writeVarint(buf, at, bytes.length);
  // TypedArray.set is cheaper than Buffer.copy for the small fields most records carry.
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/** Writes one record (length prefix included) at `at`; returns the position after it. */
export function writeRecord(buf: Buffer, at: number, record: RecordInput, body: { sizeBytes: number; timestampDelta: number; offsetDelta: number }): number {
  let pos = writeVarint(buf, at, body.sizeBytes);
  const bodyStart = pos;
  buf[pos++] = 0; // attributes
  pos = writeVarlong(buf, pos, body.timestampDelta);
  pos = writeVarint(buf, pos, body.offsetDelta);
  pos = writeNullableBytes(buf, pos, record.key);
  pos = writeNullableBytes(buf, pos, record.value);
  const headers = record.headers ?? [];
  pos = writeVarint(buf, pos, headers.length);
  for (const header of headers) {
    const keyBytes = Buffer.byteLength(header.key, 'utf8');
    pos = writeVarint(buf, pos, keyBytes);
    pos += buf.write(header.key, pos, keyBytes, 'utf8');
    pos = writeNullableBytes(buf, pos, header.value);
  }
  assert(pos - bodyStart === body.sizeBytes, `writeRecord: wrote ${pos - bodyStart} bytes, planned ${body.sizeBytes}`);
  return pos;
}

/**
 * Reads a record's length and narrows the reader to that record, so no field can read into
 * the next one. Returns the outer end for `leaveRecord`.
 */
function enterRecord(reader: ByteReader, index: number): number {
  const bodyBytes = reader.readVarint();
  if (bodyBytes < RECORD_BODY_BYTES_MIN || bodyBytes > reader.remainingBytes) {
    reader.fail(`record ${index} declares length ${bodyBytes} but ${reader.remainingBytes} bytes remain (minimum ${RECORD_BODY_BYTES_MIN})`);
  }
  const outerEnd = reader.end;
  reader.end = reader.pos + bodyBytes;
  return outerEnd;
}

function leaveRecord(reader: ByteReader, outerEnd: number, index: number): void {
  if (reader.pos !== reader.end) reader.fail(`record ${index} has ${reader.end - reader.pos} bytes beyond its fields`);
  reader.end = outerEnd;
}

function readHeaderCount(reader: ByteReader, index: number): number {
  const headerCount = reader.readVarint();
  // Each header takes at least two bytes, so a larger count is a lie; refusing it early keeps
  // a hostile count from driving a long loop.
  if (headerCount < 0 || headerCount * HEADER_BYTES_MIN > reader.remainingBytes) {
    reader.fail(`record ${index} declares ${headerCount} headers in ${reader.remainingBytes} bytes`);
  }
  return headerCount;
}

/** The fields every walk needs; returned through a reused object so walking allocates nothing. */
export interface RecordPosition {
  timestampDelta: number;
  offsetDelta: number;
  /** Whether the record has a key (not null). */
  hasKey: boolean;
}

/** Checks one record's framing without materialising it. Fills `into` and returns it. */
export function skipRecord(reader: ByteReader, index: number, into: RecordPosition): RecordPosition {
  const outerEnd = enterRecord(reader, index);
  reader.readInt8();
  into.timestampDelta = reader.readVarlong();
  into.offsetDelta = reader.readVarint();
  into.hasKey = reader.skipNullableBytes('key');
  reader.skipNullableBytes('value');
  const headerCount = readHeaderCount(reader, index);
  for (let headerIndex = 0; headerIndex < headerCount; headerIndex++) {
    reader.skipBytesOfLength(reader.readVarint(), 'header key');
    reader.skipNullableBytes('header value');
  }
  leaveRecord(reader, outerEnd, index);
  return into;
}

/** Reads one record; `into` receives its deltas, which the caller turns into absolute values. */
export function readRecordFields(
  reader: ByteReader,
  index: number,
  into: RecordPosition,
): { key: Buffer | null; value: Buffer | null; headers: RecordHeader[] } {
  const outerEnd = enterRecord(reader, index);
  reader.readInt8();
  into.timestampDelta = reader.readVarlong();
  into.offsetDelta = reader.readVarint();
  const key = reader.readNullableBytes('key');
  into.hasKey = key !== null;
  const value = reader.readNullableBytes('value');
  const headerCount = readHeaderCount(reader, index);
  const headers: RecordHeader[] = [];
  for (let headerIndex = 0; headerIndex < headerCount; headerIndex++) {
    const headerKey = reader.readBytesOfLength(reader.readVarint(), 'header key').toString('utf8');
    headers.push({ key: headerKey, value: reader.readNullableBytes('header value') });
  }
  leaveRecord(reader, outerEnd, index);
  return { key, value, headers };
}
