import { asNodeId, asRaftIndex, asTerm } from '@rivulet/common';
import type { Message } from '@rivulet/raft';
import { raft as proto } from '@rivulet/proto';
import { describe, expect, it } from 'vitest';
import { raftMessageFromProto, raftMessageToProto } from './raft-codec.js';

// Every core message kind survives core -> proto -> bytes -> proto -> core unchanged.

const head = { from: asNodeId(1), to: asNodeId(2), term: asTerm(7) };
const i = asRaftIndex;
const t = asTerm;
const samples: Message[] = [
  { ...head, type: 'pre-vote', lastLogIndex: i(10), lastLogTerm: t(6) },
  { ...head, type: 'pre-vote-response', granted: true },
  { ...head, type: 'vote', lastLogIndex: i(10), lastLogTerm: t(6), leadershipTransfer: true },
  { ...head, type: 'vote-response', granted: false },
  {
    ...head,
    type: 'append',
    prevLogIndex: i(9),
    prevLogTerm: t(6),
    leaderCommitIndex: i(8),
    entries: [
      { index: i(10), term: t(7), kind: 'noop', data: new Uint8Array(0) },
      { index: i(11), term: t(7), kind: 'normal', data: new Uint8Array([1, 2, 3]) },
      { index: i(12), term: t(7), kind: 'config-change', data: new Uint8Array([0, 0, 0, 0, 4]) },
    ],
  },
  { ...head, type: 'append-response', success: false, matchIndex: i(0), rejectedIndex: i(9), hintIndex: i(5), hintTerm: t(3) },
  { ...head, type: 'heartbeat', commitIndex: i(8), readContext: 12 },
  { ...head, type: 'heartbeat-response', readContext: 12 },
  {
    ...head,
    type: 'snapshot-chunk',
    metadata: { index: i(100), term: t(5), confState: { voters: [asNodeId(1), asNodeId(2)], learners: [asNodeId(3)] } },
    totalBytes: 10,
    offset: 4,
    data: new Uint8Array([5, 6, 7]),
  },
  { ...head, type: 'snapshot-chunk-response', snapshotIndex: i(100), nextOffset: 7 },
  { ...head, type: 'timeout-now' },
  { ...head, type: 'read-index', requestId: 99 },
  { ...head, type: 'read-index-response', requestId: 99, accepted: true, index: i(42) },
];

/** Plain data for comparison: Buffers (what protobufjs decodes bytes to) and Uint8Arrays become arrays. */
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  return value;
}

describe('raft message codec', () => {
  it.each(samples.map((message) => [message.type, message] as const))('round-trips %s through protobuf bytes', (_type, message) => {
    const bytes = proto.RaftMessageBatch.encode({ messages: [raftMessageToProto(message)] }).finish();
    const decoded = proto.RaftMessageBatch.decode(bytes).messages[0]!;
    expect(normalize(raftMessageFromProto(decoded))).toEqual(normalize(message));
  });

  it('reports a message without a body or with an unknown entry kind instead of throwing', () => {
    expect(raftMessageFromProto({ from: 1, to: 2, term: 1, body: undefined })).toMatch(/without a body/);
    const append = raftMessageToProto(samples[4]!);
    if (append.body?.$case !== 'append') throw new Error('sample 4 is an append');
    append.body.append.entries[0]!.kind = 9 as proto.EntryKind;
    expect(raftMessageFromProto(append)).toMatch(/unknown kind/);
  });
});
