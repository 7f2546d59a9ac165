export { buildProgram, describeError, runCli } from './cli.js';
export type { CliIo } from './io.js';
export { processIo } from './io.js';
export { compileFormat } from './format.js';
