import pino, { type Logger as PinoLogger } from 'pino';
import pretty from 'pino-pretty';
import type { NodeConfig } from './config.js';

/**
 * The only root logger of a node. JSON lines by default; human-friendly output when asked,
 * or with `auto` when stderr is a terminal. Components receive child loggers.
 */
export function createRootLogger(config: Pick<NodeConfig, 'logLevel' | 'logFormat' | 'nodeId'>): PinoLogger {
  const usePretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stderr.isTTY === true);
  const options = { level: config.logLevel, base: { nodeId: config.nodeId } };
  if (usePretty) {
    return pino(options, pretty({ colorize: process.stderr.isTTY === true, destination: 2, sync: true, ignore: 'pid,hostname' }));
  }
  return pino(options, pino.destination({ dest: 2, sync: false }));
}
