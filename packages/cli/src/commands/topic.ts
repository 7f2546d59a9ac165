import { Command } from 'commander';
import { RivuletError } from '@rivulet/common';
import { parseInteger, withBootstrap, withClient, type BootstrapOptions } from '../client-options.js';
import { table } from '../format.js';
import { formatBytes } from '../progress.js';
import { writeOut, type CliIo } from '../io.js';

interface CreateOptions extends BootstrapOptions {
  readonly partitions?: number;
  readonly replicationFactor?: number;
  readonly config: string[];
}

function collectConfig(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseConfigs(pairs: readonly string[]): Record<string, string> {
  const configs: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new RivuletError('INVALID_CONFIG', `--config expects KEY=VALUE, got "${pair}"`);
    configs[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return configs;
}

export function topicCommand(io: CliIo): Command {
  const topic = new Command('topic').description('create, list, describe, alter and delete topics');

  withBootstrap(topic.command('create').description('create a topic').argument('<name>'))
    .option('-p, --partitions <n>', 'number of partitions (default: the broker default)', parseInteger('--partitions', 1))
    .option('-r, --replication-factor <n>', 'replicas per partition (default: the broker default)', parseInteger('--replication-factor', 1))
    .option('-c, --config <key=value>', 'a topic config such as retention.ms=86400000 (repeatable)', collectConfig, [])
    .action(async (name: string, options: CreateOptions) => {
      await withClient(options, io, async (client) => {
        await client.admin().createTopics([{ name, partitions: options.partitions, replicationFactor: options.replicationFactor, configs: parseConfigs(options.config) }]);
      });
      await writeOut(io.stdout, `created topic ${name}\n`);
    });

  withBootstrap(topic.command('list').description('list topic names'))
    .option('--internal', 'include internal topics')
    .action(async (options: BootstrapOptions & { internal?: boolean }) => {
      const names = await withClient(options, io, (client) => client.admin().listTopics({ includeInternal: options.internal === true }));
      await writeOut(io.stdout, names.map((n) => `${n}\n`).join(''));
    });

  withBootstrap(topic.command('describe').description('partitions, replicas, offsets and configs of topics (all when none named)').argument('[names...]'))
    .action(async (names: string[], options: BootstrapOptions) => {
      const topics = await withClient(options, io, (client) => client.admin().describeTopics(names));
      const out: string[] = [];
      for (const t of topics) {
        const configs = Object.entries(t.configs)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        out.push(`Topic: ${t.name}  Partitions: ${t.partitions.length}${t.isInternal ? '  (internal)' : ''}\nConfigs: ${configs}\n`);
        out.push(
          table(
            ['PARTITION', 'LEADER', 'REPLICAS', 'ISR', 'LOG-START', 'HIGH-WATERMARK', 'LOG-END', 'SIZE'],
            t.partitions.map((p) => [
              p.partition,
              p.leaderId,
              p.replicas.join(','),
              p.isr.join(','),
              p.logStartOffset,
              p.highWatermark,
              p.logEndOffset,
              p.sizeBytes < 0 ? '-' : formatBytes(p.sizeBytes),
            ]),
          ),
        );
      }
      await writeOut(io.stdout, out.join('\n'));
    });

  withBootstrap(topic.command('alter-config').description('set or remove configs of a topic').argument('<name>'))
    .option('-s, --set <key=value>', 'set a topic config, e.g. retention.ms=86400000 (repeatable)', collectConfig, [])
    .option('-d, --delete <key>', 'remove a topic config: the broker default applies again (repeatable)', collectConfig, [])
    .action(async (name: string, options: BootstrapOptions & { set: string[]; delete: string[] }) => {
      const configs: Record<string, string | null> = { ...parseConfigs(options.set) };
      for (const key of options.delete) configs[key] = null;
      if (Object.keys(configs).length === 0) throw new RivuletError('INVALID_CONFIG', 'nothing to change: give --set KEY=VALUE or --delete KEY');
      await withClient(options, io, (client) => client.admin().alterTopicConfigs([{ name, configs }]));
      await writeOut(io.stdout, `altered configs of topic ${name}\n`);
    });

  withBootstrap(topic.command('add-partitions').description('grow a topic to a new number of partitions').argument('<name>'))
    .requiredOption('-p, --partitions <n>', 'the new total number of partitions', parseInteger('--partitions', 1))
    .action(async (name: string, options: BootstrapOptions & { partitions: number }) => {
      await withClient(options, io, (client) => client.admin().createPartitions([{ name, count: options.partitions }]));
      await writeOut(io.stdout, `topic ${name} has ${options.partitions} partitions\n`);
    });

  withBootstrap(topic.command('delete').description('delete topics').argument('<names...>'))
    .action(async (names: string[], options: BootstrapOptions) => {
      await withClient(options, io, (client) => client.admin().deleteTopics(names));
      await writeOut(io.stdout, names.map((n) => `deleted topic ${n}\n`).join(''));
    });

  return topic;
}
