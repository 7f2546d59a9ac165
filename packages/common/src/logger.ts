/**
 * The structural logger every component receives. pino satisfies it; pure cores accept it
 * without importing pino. The object comes first (fields such as nodeId, topic, partition,
 * offset, err), then a constant message phrase.
 */
export interface Logger {
  trace(fields: object, message: string): void;
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  child(bindings: object): Logger;
}

const noop = (): void => {};

export const noopLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => noopLogger,
};
