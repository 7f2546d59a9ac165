export { Broker } from './broker.js';
export type { BrokerOptions } from './broker.js';
export { FetchWaiters } from './fetch-waiters.js';
export { describeTopicConfig, resolveTopicConfig, validateTopicConfigs, validateTopicName } from './topic-config.js';
export type { TopicConfig, TopicConfigDefaults } from './topic-config.js';
export { FileTopicRegistry } from './topic-registry.js';
export type { TopicRecord, TopicRegistry } from './topic-registry.js';
export { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP } from './types.js';
export type * from './types.js';
