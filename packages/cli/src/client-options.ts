import { InvalidArgumentError, Option, type Command } from 'commander';
import { RivuletClient } from '@rivulet/client';
import type { CliIo } from './io.js';

export const DEFAULT_BOOTSTRAP = '127.0.0.1:9093';

export interface BootstrapOptions {
  readonly bootstrap?: string;
}

/** Adds --bootstrap to a command that talks to a cluster. */
export function withBootstrap(command: Command): Command {
  return command.addOption(
    new Option('--bootstrap <host:port>', `gRPC address of any node, comma-separated for several (env RIVULET_BOOTSTRAP, default ${DEFAULT_BOOTSTRAP})`),
  );
}

export function createClient(options: BootstrapOptions, io: CliIo): RivuletClient {
  const bootstrap = options.bootstrap ?? io.env['RIVULET_BOOTSTRAP'] ?? DEFAULT_BOOTSTRAP;
  return new RivuletClient({ bootstrap, clientId: 'rivulet-cli', requestTimeoutMs: 15_000 });
}

/** Runs `body` with a client and closes the client afterwards, whatever happens. */
export async function withClient<T>(options: BootstrapOptions, io: CliIo, body: (client: RivuletClient) => Promise<T>): Promise<T> {
  const client = createClient(options, io);
  try {
    return await body(client);
  } finally {
    await client.close().catch(() => undefined);
  }
}

export function parseInteger(name: string, min: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    // InvalidArgumentError makes commander report a usage error (exit code 2) naming the option.
    if (!Number.isSafeInteger(parsed) || parsed < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${value}"`);
    return parsed;
  };
}
