export { DEFAULT_INFLIGHT_REQUESTS_MAX, KafkaListener } from './kafka-listener.js';
export type { KafkaListenerOptions } from './kafka-listener.js';
export { API_TABLE, ApiKey } from './schema/api-table.js';
export type { ApiSpec } from './schema/api-table.js';
