import { assert } from '@rivulet/common';
import { replicationApi } from '@rivulet/proto';

/** A partition of a ReplicaFetchResponse whose records are the batches as the log holds them, not yet joined. */
export interface ReplicaFetchAnswerPartition extends Omit<replicationApi.ReplicaFetchPartitionData, 'records'> {
  /** Whole batches in offset order; on the wire they are the `records` field, one after another. */
  readonly batches: readonly Uint8Array[];
}

/** What a leader answers a follower's fetch with: a ReplicaFetchResponse before encoding. */
export interface ReplicaFetchAnswer {
  readonly partitions: readonly ReplicaFetchAnswerPartition[];
}

const EMPTY = Buffer.alloc(0);
/** Field 8 (`records`), length-delimited. */
const RECORDS_TAG = (8 << 3) | 2;
/** ReplicaFetchResponse field 1 (`partitions`), length-delimited. */
const PARTITIONS_TAG = (1 << 3) | 2;

/**
 * Encodes a ReplicaFetchAnswer as the ReplicaFetchResponse it stands for, byte for byte what
 * the generated encoder writes for the same message with each partition's batches joined.
 * The batches are copied once, straight into the message: a leader answers every follower
 * fetch with up to a megabyte of them, and joining them first and then copying them into the
 * generated encoder's buffer cost two more copies of every replicated byte (and as many
 * short-lived buffers for the collector).
 *
 * The small fields go through the generated encoder (with no records), so only the records
 * field and the two length prefixes are written here.
 */
export function encodeReplicaFetchAnswer(answer: ReplicaFetchAnswer): Buffer {
  const count = answer.partitions.length;
  const heads: Uint8Array[] = new Array<Uint8Array>(count);
  const recordsBytes: number[] = new Array<number>(count);
  const bodies: number[] = new Array<number>(count);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const p = answer.partitions[i]!;
    const head = replicationApi.ReplicaFetchPartitionData.encode({
      topic: p.topic,
      partition: p.partition,
      errorCode: p.errorCode,
      errorMessage: p.errorMessage,
      highWatermark: p.highWatermark,
      logStartOffset: p.logStartOffset,
      logEndOffset: p.logEndOffset,
      records: EMPTY,
    }).finish();
    let bytes = 0;
    for (const batch of p.batches) bytes += batch.byteLength;
    heads[i] = head;
    recordsBytes[i] = bytes;
    bodies[i] = head.byteLength + (bytes === 0 ? 0 : 1 + varintBytes(bytes) + bytes);
    total += 1 + varintBytes(bodies[i]!) + bodies[i]!;
  }
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const head = heads[i]!;
    const bytes = recordsBytes[i]!;
    out[pos++] = PARTITIONS_TAG;
    pos = writeVarint(out, pos, bodies[i]!);
    out.set(head, pos);
    pos += head.byteLength;
    if (bytes === 0) continue;
    out[pos++] = RECORDS_TAG;
    pos = writeVarint(out, pos, bytes);
    for (const batch of answer.partitions[i]!.batches) {
      out.set(batch, pos);
      pos += batch.byteLength;
    }
  }
  assert(pos === total, `a replica fetch answer was sized at ${total} bytes but ${pos} were written`);
  return out;
}

/** Bytes of `value` (a length: non-negative, below 2^31) as a protobuf varint. */
function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value >>>= 7;
    bytes++;
  }
  return bytes;
}

function writeVarint(out: Buffer, pos: number, value: number): number {
  assert(value >= 0 && value <= 0x7fffffff, `a length prefix must fit 31 bits, got ${value}`);
  while (value >= 0x80) {
    out[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[pos++] = value;
  return pos;
}

/** ReplicaService as a leader serves it: fetch answers are ReplicaFetchAnswers, encoded by encodeReplicaFetchAnswer. */
export const replicaServiceAsLeader = {
  ...replicationApi.ReplicaServiceService,
  replicaFetch: { ...replicationApi.ReplicaServiceService.replicaFetch, responseSerialize: encodeReplicaFetchAnswer },
};
