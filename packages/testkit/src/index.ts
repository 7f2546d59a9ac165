export { CLI_BIN, NodeProcess } from './node-process.js';
export type { NodeProcessOptions } from './node-process.js';
export { waitFor } from './wait.js';
