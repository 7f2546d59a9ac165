import { assert } from '@rivulet/common';
import { ConfigChangeType, decodeConfigChange, EntryKind } from '@rivulet/raft';
import type { Entry } from '@rivulet/raft';

/** Proposal payloads are 4-byte big-endian proposal ids (>= 1), cheap to decode per apply. */
export function encodeProposal(proposalId: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, proposalId);
  return bytes;
}

/** The proposal id in an entry, or 0 for a no-op or a config change. */
export function decodeProposal(entry: Entry): number {
  if (entry.kind !== EntryKind.Normal) return 0;
  assert(entry.data.byteLength === 4, `unexpected payload of ${entry.data.byteLength} bytes`);
  return new DataView(entry.data.buffer, entry.data.byteOffset, 4).getUint32(0);
}

/** Distinguishes any two different entries of the simulation (used by the log-matching check). */
export function entryFingerprint(entry: Entry): number {
  switch (entry.kind) {
    case EntryKind.Normal:
      return decodeProposal(entry);
    case EntryKind.Noop:
      return 0;
    case EntryKind.ConfigChange: {
      const change = decodeConfigChange(entry.data);
      return -(change.nodeId * 10 + [ConfigChangeType.AddVoter, ConfigChangeType.AddLearner, ConfigChangeType.RemoveNode].indexOf(change.type) + 1);
    }
  }
}

/** Folds one applied entry into the running digest; equal digests ⇒ (almost surely) equal histories. */
export function nextDigest(digest: number, term: number, proposalId: number): number {
  let hash = Math.imul(digest ^ term, 0x9e3779b1) >>> 0;
  hash = Math.imul(hash ^ proposalId, 0x85ebca6b) >>> 0;
  return (hash ^ (hash >>> 13)) >>> 0;
}

/**
 * The simulated application: it remembers every applied proposal id and a digest of the
 * whole applied history. Its snapshot holds both, so snapshots have a realistic, growing
 * size and are sent in several chunks.
 */
export class SimStateMachine {
  appliedIndex = 0;
  digest = 0;
  readonly proposalIds: number[] = [];

  apply(entry: Entry): number {
    assert(entry.index === this.appliedIndex + 1, `applying ${entry.index} after ${this.appliedIndex}`);
    const proposalId = decodeProposal(entry);
    this.appliedIndex = entry.index;
    this.digest = nextDigest(this.digest, entry.term, entryFingerprint(entry) >>> 0);
    if (proposalId !== 0) this.proposalIds.push(proposalId);
    return proposalId;
  }

  encode(): Uint8Array {
    const words = new Uint32Array(2 + this.proposalIds.length);
    words[0] = this.appliedIndex;
    words[1] = this.digest;
    words.set(this.proposalIds, 2);
    return new Uint8Array(words.buffer);
  }

  static decode(data: Uint8Array): SimStateMachine {
    const machine = new SimStateMachine();
    if (data.byteLength === 0) return machine;
    assert(data.byteLength % 4 === 0 && data.byteLength >= 8, 'malformed state-machine snapshot');
    const words = new Uint32Array(data.slice().buffer);
    machine.appliedIndex = words[0] ?? 0;
    machine.digest = words[1] ?? 0;
    machine.proposalIds.push(...words.subarray(2));
    return machine;
  }
}
