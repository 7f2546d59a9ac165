import { RivuletError } from '@rivulet/common';

/*
 * Upper bounds on how large LZ4 and zstd frames decompress, computed by walking their block
 * headers without decompressing anything. The native decompressors size their output from the
 * data, so checking the bound first keeps a hostile batch from allocating without limit. Every
 * loop advances by at least the size of a block header, so the walk ends within data.length
 * steps.
 */

const LZ4_FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_FRAME_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_FRAME_MAGIC = 0x184d2a50;
const ZSTD_FRAME_MAGIC = 0xfd2fb528;
/** A zstd block never regenerates more than 128 KiB (Block_Maximum_Size). */
const ZSTD_BLOCK_BYTES_MAX = 128 * 1024;

function fail(codec: string, message: string): never {
  throw new RivuletError('INVALID_RECORD', `${codec} records are malformed: ${message}`);
}

function need(data: Buffer, at: number, bytes: number, codec: string): void {
  if (at + bytes > data.length) fail(codec, `truncated at byte ${at}`);
}

/* LZ4 frame: magic(4 LE) FLG BD [contentSize(8)] [dictId(4)] HC, then blocks of
 * [uint32 LE size, high bit = stored uncompressed][data][blockChecksum(4)?], ended by a zero
 * size, then [contentChecksum(4)?]. BD bits 4-6 give the largest block: 4 → 64 KiB … 7 → 4 MiB. */
export function lz4UncompressedBoundBytes(data: Buffer): number {
  let boundBytes = 0;
  let at = 0;
  while (at < data.length) {
    need(data, at, 4, 'lz4');
    const magic = data.readUInt32LE(at);
    if ((magic & SKIPPABLE_FRAME_MAGIC_MASK) >>> 0 === SKIPPABLE_FRAME_MAGIC) {
      need(data, at, 8, 'lz4');
      at += 8 + data.readUInt32LE(at + 4);
      continue;
    }
    if (magic !== LZ4_FRAME_MAGIC) fail('lz4', `bad frame magic 0x${magic.toString(16)}`);
    const frame = walkLz4Frame(data, at + 4);
    boundBytes += frame.boundBytes;
    at = frame.end;
  }
  if (at > data.length) fail('lz4', 'skippable frame runs past the records');
  return boundBytes;
}

function walkLz4Frame(data: Buffer, descriptorAt: number): { boundBytes: number; end: number } {
  need(data, descriptorAt, 3, 'lz4');
  const flags = data[descriptorAt]!;
  const blockSizeCode = (data[descriptorAt + 1]! >> 4) & 0x07;
  if (flags >> 6 !== 1) fail('lz4', `unsupported frame version ${flags >> 6}`);
  if (blockSizeCode < 4) fail('lz4', `invalid block size code ${blockSizeCode}`);
  const blockBytesMax = 1 << (8 + 2 * blockSizeCode);
  const hasBlockChecksum = (flags & 0x10) !== 0;
  let at = descriptorAt + 3 + ((flags & 0x08) !== 0 ? 8 : 0) + ((flags & 0x01) !== 0 ? 4 : 0);
  let boundBytes = 0;
  while (true) {
    need(data, at, 4, 'lz4');
    const blockHeader = data.readUInt32LE(at);
    at += 4;
    if (blockHeader === 0) break;
    const storedBytes = blockHeader & 0x7fffffff;
    const isUncompressed = (blockHeader & 0x80000000) !== 0;
    if (storedBytes > blockBytesMax) fail('lz4', `block of ${storedBytes} bytes exceeds the frame's ${blockBytesMax}`);
    at += storedBytes + (hasBlockChecksum ? 4 : 0);
    need(data, at, 0, 'lz4');
    boundBytes += isUncompressed ? storedBytes : blockBytesMax;
  }
  if ((flags & 0x04) !== 0) at += 4;
  need(data, at, 0, 'lz4');
  return { boundBytes, end: at };
}

/* zstd frame: magic(4 LE) FHD [window(1)] [dictId(0,1,2,4)] [contentSize(0,1,2,4,8)], then
 * blocks of a 3-byte LE header (bit 0 last, bits 1-2 type, bits 3-23 size), then
 * [checksum(4)?]. Raw and RLE blocks regenerate exactly `size` bytes, compressed ones at most
 * 128 KiB. */
export function zstdUncompressedBoundBytes(data: Buffer): number {
  let boundBytes = 0;
  let at = 0;
  while (at < data.length) {
    need(data, at, 4, 'zstd');
    const magic = data.readUInt32LE(at);
    if ((magic & SKIPPABLE_FRAME_MAGIC_MASK) >>> 0 === SKIPPABLE_FRAME_MAGIC) {
      need(data, at, 8, 'zstd');
      at += 8 + data.readUInt32LE(at + 4);
      continue;
    }
    if (magic !== ZSTD_FRAME_MAGIC) fail('zstd', `bad frame magic 0x${magic.toString(16)}`);
    const frame = walkZstdFrame(data, at + 4);
    boundBytes += frame.boundBytes;
    at = frame.end;
  }
  if (at > data.length) fail('zstd', 'skippable frame runs past the records');
  return boundBytes;
}

function walkZstdFrame(data: Buffer, descriptorAt: number): { boundBytes: number; end: number } {
  need(data, descriptorAt, 1, 'zstd');
  const descriptor = data[descriptorAt]!;
  if ((descriptor & 0x08) !== 0) fail('zstd', 'reserved frame header bit is set');
  const isSingleSegment = (descriptor & 0x20) !== 0;
  const contentSizeFlag = descriptor >> 6;
  const contentSizeBytes = [isSingleSegment ? 1 : 0, 2, 4, 8][contentSizeFlag]!;
  const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 0x03]!;
  let at = descriptorAt + 1 + (isSingleSegment ? 0 : 1) + dictionaryIdBytes + contentSizeBytes;
  let boundBytes = 0;
  while (true) {
    need(data, at, 3, 'zstd');
    const blockHeader = data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16);
    const blockType = (blockHeader >> 1) & 0x03;
    const blockBytes = blockHeader >>> 3;
    if (blockType === 3) fail('zstd', 'reserved block type');
    if (blockBytes > ZSTD_BLOCK_BYTES_MAX) fail('zstd', `block of ${blockBytes} bytes exceeds 128 KiB`);
    at += 3 + (blockType === 1 ? 1 : blockBytes);
    need(data, at, 0, 'zstd');
    boundBytes += blockType === 2 ? ZSTD_BLOCK_BYTES_MAX : blockBytes;
    if ((blockHeader & 0x01) !== 0) break;
  }
  if ((descriptor & 0x04) !== 0) at += 4;
  need(data, at, 0, 'zstd');
  return { boundBytes, end: at };
}
