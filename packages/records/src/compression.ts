import { gunzipSync, gzipSync } from 'node:zlib';
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { compressFrameSync as lz4CompressFrame, decompressFrameSync as lz4DecompressFrame } from 'lz4-napi';
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from 'snappy';
import { RivuletError } from '@rivulet/common';
import { Compression } from './batch-header.js';
import { lz4UncompressedBoundBytes, zstdUncompressedBoundBytes } from './frame-bounds.js';

/*
 * The compression codecs of RecordBatch v2. The records section (everything after the 61-byte
 * header) is compressed as one unit:
 *
 *   gzip    RFC 1952 stream (Kafka: java.util.zip.GZIPOutputStream)
 *   snappy  xerial framing: magic 82 'SNAPPY' 00, int32 version 1, int32 compatible 1, then
 *           chunks of [int32 compressedLength][raw snappy block]. Decoding also accepts a bare raw
 *           snappy block, which librdkafka and kafkajs-snappy write.
 *   lz4     LZ4 frame format with independent blocks (Kafka's KafkaLZ4BlockOutputStream)
 *   zstd    zstd frame format
 *
 * zstd's binding is asynchronous only, so every codec has an async entry point and all but
 * zstd also have a synchronous one. Decompression is bounded: the output size is worked out
 * from the compressed framing before the library allocates, and refused past a limit, so a
 * small hostile batch cannot make the broker allocate gigabytes.
 */

/** Default cap on the decompressed size of one batch's records. */
export const DEFAULT_UNCOMPRESSED_BYTES_MAX = 128 * 1024 * 1024;
const GZIP_LEVEL = 6;
const ZSTD_LEVEL = 3;
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
/** Uncompressed bytes per xerial chunk; the xerial library's default block size. */
const XERIAL_CHUNK_BYTES = 32 * 1024;

function compressionName(codec: number): string {
  return Object.keys(Compression).find((name) => Compression[name as keyof typeof Compression] === codec) ?? `codec ${codec}`;
}

/** Compresses `data` with any codec but zstd, synchronously. */
export function compressSync(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Compression.gzip:
      return gzipSync(data, { level: GZIP_LEVEL });
    case Compression.snappy:
      return xerialSnappyCompress(data);
    case Compression.lz4:
      return lz4CompressFrame(data, { contentChecksum: false, blockChecksums: false });
    case Compression.zstd:
      throw new RivuletError('UNSUPPORTED_COMPRESSION_TYPE', 'zstd compression is asynchronous only: use encodeRecordBatch');
    default:
      throw new RivuletError('UNSUPPORTED_COMPRESSION_TYPE', `cannot compress with ${compressionName(codec)}`);
  }
}

export async function compressAsync(codec: number, data: Buffer): Promise<Buffer> {
  if (codec === Compression.zstd) return zstdCompress(data, ZSTD_LEVEL);
  return compressSync(codec, data);
}

/** Decompresses `data` with any codec but zstd, refusing output beyond `uncompressedBytesMax`. */
export function decompressSync(codec: number, data: Buffer, uncompressedBytesMax: number): Buffer {
  if (codec === Compression.zstd) {
    throw new RivuletError('UNSUPPORTED_COMPRESSION_TYPE', 'zstd decompression is asynchronous only: use the async API');
  }
  return guardDecompression(codec, () => decompressBounded(codec, data, uncompressedBytesMax));
}

export async function decompressAsync(codec: number, data: Buffer, uncompressedBytesMax: number): Promise<Buffer> {
  if (codec !== Compression.zstd) return decompressSync(codec, data, uncompressedBytesMax);
  const boundBytes = zstdUncompressedBoundBytes(data);
  checkBound(codec, boundBytes, uncompressedBytesMax);
  try {
    return await zstdDecompress(data);
  } catch (cause) {
    throw new RivuletError('INVALID_RECORD', 'records do not decompress as zstd', {}, { cause });
  }
}

function decompressBounded(codec: number, data: Buffer, uncompressedBytesMax: number): Buffer {
  switch (codec) {
    case Compression.gzip:
      return gunzipBounded(data, uncompressedBytesMax);
    case Compression.snappy:
      return snappyDecompressBounded(data, uncompressedBytesMax);
    case Compression.lz4:
      checkBound(codec, lz4UncompressedBoundBytes(data), uncompressedBytesMax);
      return lz4DecompressFrame(data);
    default:
      throw new RivuletError('UNSUPPORTED_COMPRESSION_TYPE', `cannot decompress ${compressionName(codec)}`);
  }
}

/** Turns a library failure on hostile bytes into INVALID_RECORD; our own RivuletErrors pass. */
function guardDecompression(codec: number, decompress: () => Buffer): Buffer {
  try {
    return decompress();
  } catch (cause) {
    if (cause instanceof RivuletError) throw cause;
    throw new RivuletError('INVALID_RECORD', `records do not decompress as ${compressionName(codec)}`, {}, { cause });
  }
}

function checkBound(codec: number, boundBytes: number, uncompressedBytesMax: number): void {
  if (boundBytes > uncompressedBytesMax) {
    throw new RivuletError(
      'INVALID_RECORD',
      `${compressionName(codec)} records would decompress to up to ${boundBytes} bytes, over the limit of ${uncompressedBytesMax}`,
    );
  }
}

function gunzipBounded(data: Buffer, uncompressedBytesMax: number): Buffer {
  try {
    // zlib stops and throws once the output passes maxOutputLength, before allocating more.
    return gunzipSync(data, { maxOutputLength: Math.max(1, uncompressedBytesMax) });
  } catch (cause) {
    const isTooLarge = (cause as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    const message = isTooLarge ? `gzip records decompress to over ${uncompressedBytesMax} bytes` : 'records do not decompress as gzip';
    throw new RivuletError('INVALID_RECORD', message, {}, { cause });
  }
}

/* xerial: magic(8) version(int32) compatible(int32) then [int32 length][raw snappy]… */
function xerialSnappyCompress(data: Buffer): Buffer {
  const chunks: Buffer[] = [Buffer.allocUnsafe(XERIAL_HEADER_BYTES)];
  XERIAL_MAGIC.copy(chunks[0]!, 0);
  chunks[0]!.writeInt32BE(XERIAL_VERSION, 8);
  chunks[0]!.writeInt32BE(XERIAL_COMPATIBLE_VERSION, 12);
  for (let at = 0; at < data.length; at += XERIAL_CHUNK_BYTES) {
    const compressed = snappyCompress(data.subarray(at, at + XERIAL_CHUNK_BYTES));
    const lengthPrefix = Buffer.allocUnsafe(4);
    lengthPrefix.writeInt32BE(compressed.length, 0);
    chunks.push(lengthPrefix, compressed);
  }
  return Buffer.concat(chunks);
}

function isXerialFramed(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_BYTES && data.compare(XERIAL_MAGIC, 0, XERIAL_MAGIC.length, 0, XERIAL_MAGIC.length) === 0;
}

function snappyDecompressBounded(data: Buffer, uncompressedBytesMax: number): Buffer {
  if (!isXerialFramed(data)) {
    checkBound(Compression.snappy, snappyRawLengthBytes(data), uncompressedBytesMax);
    return snappyUncompress(data, { asBuffer: true }) as Buffer;
  }
  const blocks: Buffer[] = [];
  let totalBytes = 0;
  for (let at = XERIAL_HEADER_BYTES; at < data.length; ) {
    if (at + 4 > data.length) throw new RivuletError('INVALID_RECORD', 'xerial snappy chunk length is truncated');
    const chunkBytes = data.readInt32BE(at);
    if (chunkBytes < 0 || at + 4 + chunkBytes > data.length) {
      throw new RivuletError('INVALID_RECORD', `xerial snappy chunk length ${chunkBytes} runs past the records`);
    }
    const block = data.subarray(at + 4, at + 4 + chunkBytes);
    totalBytes += snappyRawLengthBytes(block);
    checkBound(Compression.snappy, totalBytes, uncompressedBytesMax);
    blocks.push(block);
    at += 4 + chunkBytes;
  }
  const output = Buffer.allocUnsafe(totalBytes);
  let written = 0;
  for (const block of blocks) written += (snappyUncompress(block, { asBuffer: true }) as Buffer).copy(output, written);
  if (written !== totalBytes) throw new RivuletError('INVALID_RECORD', 'xerial snappy chunks decompress to the wrong size');
  return output;
}

/* A raw snappy block begins with its uncompressed length as an unsigned little-endian base-128 varint. */
function snappyRawLengthBytes(block: Buffer): number {
  let lengthBytes = 0;
  for (let index = 0; index < 5; index++) {
    if (index >= block.length) break;
    const byte = block[index]!;
    lengthBytes += (byte & 0x7f) * 2 ** (7 * index);
    if (byte < 0x80) return lengthBytes;
  }
  throw new RivuletError('INVALID_RECORD', 'snappy block has a malformed length preamble');
}
