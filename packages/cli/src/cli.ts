import { Command, CommanderError } from 'commander';
import { RivuletError } from '@rivulet/common';
import { VERSION } from '@rivulet/server';
import { brokerCommand } from './commands/broker.js';
import { clusterCommand } from './commands/cluster.js';
import { consumeCommand } from './commands/consume.js';
import { groupCommand } from './commands/group.js';
import { partitionCommand } from './commands/partition.js';
import { produceCommand } from './commands/produce.js';
import { startCommand } from './commands/start.js';
import { topicCommand } from './commands/topic.js';
import type { CliIo } from './io.js';

export function buildProgram(io: CliIo): Command {
  const program = new Command('rivulet')
    .description('Rivulet: a distributed event-streaming platform that speaks Kafka')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)');
  for (const command of [
    startCommand(io),
    topicCommand(io),
    partitionCommand(io),
    produceCommand(io),
    consumeCommand(io),
    groupCommand(io),
    clusterCommand(io),
    brokerCommand(io),
  ]) program.addCommand(command);
  configureRecursively(program, io);
  return program;
}

/** Every command reports usage errors through our streams and returns instead of exiting. */
function configureRecursively(command: Command, io: CliIo): void {
  command.exitOverride().configureOutput({
    writeOut: (text) => io.stdout.write(text),
    writeErr: (text) => io.stderr.write(text),
  });
  for (const sub of command.commands) configureRecursively(sub, io);
}

/** The error's name and message, without a stack trace: what a person at a terminal needs. */
export function describeError(err: unknown): string {
  if (err instanceof RivuletError) return `${err.errorName}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** Runs the command line `args` (without node and script) and returns the exit code. */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...args], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    io.stderr.write(`rivulet: ${describeError(err)}\n`);
    return 1;
  }
}
