export { DEFAULT_ELECTION_TIMEOUT_TICKS, DEFAULT_HEARTBEAT_INTERVAL_TICKS, DEFAULT_TICK_INTERVAL_MS, RaftDriver } from './raft-driver.js';
export type { AppliedEntry, RaftDriverOptions, RaftDriverStatus, RaftDriverStore, SnapshotHooks } from './raft-driver.js';
export { NotControllerError, RaftOutcomeUnknownError } from './errors.js';
export { raftMessageFromProto, raftMessageToProto } from './raft-codec.js';
export { RaftMember, parsePeers } from './raft-member.js';
export type { RaftMemberOptions, RaftPeerConfig } from './raft-member.js';
export { KeyValueStateMachine } from './kv-state-machine.js';
