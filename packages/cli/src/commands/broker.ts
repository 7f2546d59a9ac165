import { Command } from 'commander';
import type { DrainedPartition } from '@rivulet/client';
import { parseInteger, withBootstrap, withClient, type BootstrapOptions } from '../client-options.js';
import { table } from '../format.js';
import { writeOut, type CliIo } from '../io.js';

/** What `broker drain` prints: the reassignments it started and where leadership is now. */
export function formatDrain(brokerId: number, started: readonly DrainedPartition[]): string {
  if (started.length === 0) return `broker ${brokerId} holds no replicas to move\n`;
  return (
    table(
      ['TOPIC', 'PARTITION', 'TARGET-REPLICAS', 'LEADER'],
      started.map((s) => [s.topic, s.partition, s.targetReplicas.join(','), s.leaderId < 0 ? 'none' : s.leaderId]),
    ) +
    `started ${started.length} reassignment${started.length === 1 ? '' : 's'} off broker ${brokerId}; ` +
    `each completes once its new replicas join the ISR (follow with: rivulet partition reassignments)\n`
  );
}

export function brokerCommand(io: CliIo): Command {
  const broker = new Command('broker').description('broker operations');
  withBootstrap(
    broker
      .command('drain')
      .description('move every replica off a broker before removing it: starts one reassignment per partition it holds and moves its leaderships')
      .argument('<id>', 'the broker id', parseInteger('ID', 0)),
  ).action(async (brokerId: number, options: BootstrapOptions) => {
    const started = await withClient(options, io, (client) => client.admin().drainBroker(brokerId));
    await writeOut(io.stdout, formatDrain(brokerId, started));
  });
  return broker;
}
