import { asNodeId, asRaftIndex, asTerm, unreachable } from '@rivulet/common';
import type { Entry, EntryKind, Message, SnapshotMetadata } from '@rivulet/raft';
import { raft as proto } from '@rivulet/proto';

/*
 * Conversion between the Raft core's messages and their protobuf form. It lives here, not
 * in transport-grpc, because only the controller may import @rivulet/raft. Decoding checks
 * the shape (a known body) but not the Raft meaning: the core decides what a message means.
 */

const kindToProto: Record<EntryKind, proto.EntryKind> = {
  normal: proto.EntryKind.ENTRY_KIND_NORMAL,
  noop: proto.EntryKind.ENTRY_KIND_NOOP,
  'config-change': proto.EntryKind.ENTRY_KIND_CONFIG_CHANGE,
};

function kindFromProto(kind: proto.EntryKind): EntryKind | null {
  switch (kind) {
    case proto.EntryKind.ENTRY_KIND_NORMAL:
      return 'normal';
    case proto.EntryKind.ENTRY_KIND_NOOP:
      return 'noop';
    case proto.EntryKind.ENTRY_KIND_CONFIG_CHANGE:
      return 'config-change';
    default:
      return null;
  }
}

/** A view of the bytes as a Buffer, without copying (protobufjs writes from it). */
function bytes(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function entryToProto(entry: Entry): proto.Entry {
  return { index: entry.index, term: entry.term, kind: kindToProto[entry.kind], data: bytes(entry.data) };
}

function metadataToProto(metadata: SnapshotMetadata): proto.SnapshotMetadata {
  return { index: metadata.index, term: metadata.term, confState: { voters: [...metadata.confState.voters], learners: [...metadata.confState.learners] } };
}

export function raftMessageToProto(message: Message): proto.RaftMessage {
  const head = { from: message.from, to: message.to, term: message.term };
  switch (message.type) {
    case 'pre-vote':
      return { ...head, body: { $case: 'preVote', preVote: { lastLogIndex: message.lastLogIndex, lastLogTerm: message.lastLogTerm } } };
    case 'pre-vote-response':
      return { ...head, body: { $case: 'preVoteResponse', preVoteResponse: { granted: message.granted } } };
    case 'vote':
      return { ...head, body: { $case: 'vote', vote: { lastLogIndex: message.lastLogIndex, lastLogTerm: message.lastLogTerm, leadershipTransfer: message.leadershipTransfer } } };
    case 'vote-response':
      return { ...head, body: { $case: 'voteResponse', voteResponse: { granted: message.granted } } };
    case 'append':
      return {
        ...head,
        body: {
          $case: 'append',
          append: { prevLogIndex: message.prevLogIndex, prevLogTerm: message.prevLogTerm, entries: message.entries.map(entryToProto), leaderCommitIndex: message.leaderCommitIndex },
        },
      };
    case 'append-response':
      return {
        ...head,
        body: {
          $case: 'appendResponse',
          appendResponse: { success: message.success, matchIndex: message.matchIndex, rejectedIndex: message.rejectedIndex, hintIndex: message.hintIndex, hintTerm: message.hintTerm },
        },
      };
    case 'heartbeat':
      return { ...head, body: { $case: 'heartbeat', heartbeat: { commitIndex: message.commitIndex, readContext: message.readContext } } };
    case 'heartbeat-response':
      return { ...head, body: { $case: 'heartbeatResponse', heartbeatResponse: { readContext: message.readContext } } };
    case 'snapshot-chunk':
      return {
        ...head,
        body: {
          $case: 'snapshotChunk',
          snapshotChunk: { metadata: metadataToProto(message.metadata), totalBytes: message.totalBytes, offset: message.offset, data: bytes(message.data) },
        },
      };
    case 'snapshot-chunk-response':
      return { ...head, body: { $case: 'snapshotChunkResponse', snapshotChunkResponse: { snapshotIndex: message.snapshotIndex, nextOffset: message.nextOffset } } };
    case 'timeout-now':
      return { ...head, body: { $case: 'timeoutNow', timeoutNow: {} } };
    case 'read-index':
      return { ...head, body: { $case: 'readIndex', readIndex: { requestId: message.requestId } } };
    case 'read-index-response':
      return { ...head, body: { $case: 'readIndexResponse', readIndexResponse: { requestId: message.requestId, accepted: message.accepted, index: message.index } } };
    default:
      return unreachable(message, 'unknown raft message type');
  }
}

/**
 * The core message of a received protobuf message, or a reason string when it is malformed
 * (a peer of another version, or garbage): the caller drops it and logs the reason.
 */
export function raftMessageFromProto(message: proto.RaftMessage): Message | string {
  const head = { from: asNodeId(message.from), to: asNodeId(message.to), term: asTerm(message.term) };
  const body = message.body;
  if (body === undefined) return 'raft message without a body';
  switch (body.$case) {
    case 'preVote':
      return { ...head, type: 'pre-vote', lastLogIndex: asRaftIndex(body.preVote.lastLogIndex), lastLogTerm: asTerm(body.preVote.lastLogTerm) };
    case 'preVoteResponse':
      return { ...head, type: 'pre-vote-response', granted: body.preVoteResponse.granted };
    case 'vote':
      return {
        ...head,
        type: 'vote',
        lastLogIndex: asRaftIndex(body.vote.lastLogIndex),
        lastLogTerm: asTerm(body.vote.lastLogTerm),
        leadershipTransfer: body.vote.leadershipTransfer,
      };
    case 'voteResponse':
      return { ...head, type: 'vote-response', granted: body.voteResponse.granted };
    case 'append': {
      const entries: Entry[] = [];
      for (const entry of body.append.entries) {
        const kind = kindFromProto(entry.kind);
        if (kind === null) return `raft entry ${entry.index} has unknown kind ${entry.kind}`;
        entries.push({ index: asRaftIndex(entry.index), term: asTerm(entry.term), kind, data: entry.data });
      }
      return {
        ...head,
        type: 'append',
        prevLogIndex: asRaftIndex(body.append.prevLogIndex),
        prevLogTerm: asTerm(body.append.prevLogTerm),
        entries,
        leaderCommitIndex: asRaftIndex(body.append.leaderCommitIndex),
      };
    }
    case 'appendResponse': {
      const response = body.appendResponse;
      return {
        ...head,
        type: 'append-response',
        success: response.success,
        matchIndex: asRaftIndex(response.matchIndex),
        rejectedIndex: asRaftIndex(response.rejectedIndex),
        hintIndex: asRaftIndex(response.hintIndex),
        hintTerm: asTerm(response.hintTerm),
      };
    }
    case 'heartbeat':
      return { ...head, type: 'heartbeat', commitIndex: asRaftIndex(body.heartbeat.commitIndex), readContext: body.heartbeat.readContext };
    case 'heartbeatResponse':
      return { ...head, type: 'heartbeat-response', readContext: body.heartbeatResponse.readContext };
    case 'snapshotChunk': {
      const chunk = body.snapshotChunk;
      const metadata = chunk.metadata;
      if (metadata === undefined) return 'snapshot chunk without metadata';
      return {
        ...head,
        type: 'snapshot-chunk',
        metadata: {
          index: asRaftIndex(metadata.index),
          term: asTerm(metadata.term),
          confState: { voters: (metadata.confState?.voters ?? []).map(asNodeId), learners: (metadata.confState?.learners ?? []).map(asNodeId) },
        },
        totalBytes: chunk.totalBytes,
        offset: chunk.offset,
        data: chunk.data,
      };
    }
    case 'snapshotChunkResponse':
      return { ...head, type: 'snapshot-chunk-response', snapshotIndex: asRaftIndex(body.snapshotChunkResponse.snapshotIndex), nextOffset: body.snapshotChunkResponse.nextOffset };
    case 'timeoutNow':
      return { ...head, type: 'timeout-now' };
    case 'readIndex':
      return { ...head, type: 'read-index', requestId: body.readIndex.requestId };
    case 'readIndexResponse':
      return { ...head, type: 'read-index-response', requestId: body.readIndexResponse.requestId, accepted: body.readIndexResponse.accepted, index: asRaftIndex(body.readIndexResponse.index) };
    default:
      return unreachable(body, 'unknown raft message body');
  }
}
