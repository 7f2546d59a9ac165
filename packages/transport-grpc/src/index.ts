export { ERROR_CODE_TRAILER, LEADER_ID_TRAILER, fromServiceError, isServiceError, toStatus } from './status.js';
export type { StatusObject } from './status.js';
export { CLIENT_CHANNEL_OPTIONS, GrpcServer } from './server.js';
export type { BidiHandler, GrpcServerOptions, ServiceHandlers, StreamHandler, UnaryHandler } from './server.js';
export { RaftPeerTransport, estimateRaftMessageBytes, raftServiceHandlers } from './raft-peer-transport.js';
export type { RaftPeerAddress, RaftPeerStats, RaftPeerTransportOptions } from './raft-peer-transport.js';
export { ControllerChannel } from './controller-channel.js';
export type { ControllerAddress, ControllerChannelOptions } from './controller-channel.js';
export { ReplicaChannel } from './replica-channel.js';
