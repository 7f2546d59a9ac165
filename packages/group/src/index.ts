export type * from './types.js';
export { DEFAULT_GROUP_CONFIG } from './types.js';
