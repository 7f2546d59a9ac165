export { AssertionError, assert, assertSafeUint, unreachable } from './assert.js';
export type { Brand, LeaderEpoch, NodeId, Offset, RaftIndex, Term, TopicPartition } from './ids.js';
export { asLeaderEpoch, asNodeId, asOffset, asRaftIndex, asTerm, topicNameProblem, topicPartitionKey } from './ids.js';
export type { Cancellable, Clock, Random, Scheduler } from './time.js';
export { SeededRandom, systemClock, systemRandom, systemScheduler } from './time.js';
export type { Logger } from './logger.js';
export { noopLogger } from './logger.js';
export type { ErrorCodeValue, ErrorContext, ErrorInfo, ErrorName } from './errors.js';
export { ErrorCode, RivuletError, StorageError, errorInfo } from './errors.js';
