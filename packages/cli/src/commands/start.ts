import { Command, Option } from 'commander';
import { configOptions, flagName, loadConfig, startNode, type OptionSpec, type RunningNode } from '@rivulet/server';
import { writeOut, type CliIo } from '../io.js';

/** One commander option per config setting, from the server's option table. */
function optionsFor(spec: OptionSpec): Option[] {
  const flag = flagName(spec.name);
  switch (spec.type) {
    case 'bool':
      // --auto-create-topics, --auto-create-topics=false and --no-auto-create-topics all work.
      return [new Option(`${flag} [bool]`, spec.description).preset('true'), new Option(`--no-${flag.slice(2)}`, `disable ${flag}`)];
    case 'enum':
      return [new Option(`${flag} <value>`, spec.description).choices(spec.choices ?? [])];
    case 'int':
      return [new Option(`${flag} <n>`, spec.description)];
    case 'string':
      return [new Option(`${flag} <value>`, spec.description)];
  }
}

function listeningMessage(node: RunningNode): string {
  const parts = [`gRPC ${node.grpcAddress}`];
  if (node.kafkaAddress !== null) parts.push(`Kafka ${node.kafkaAddress}`);
  if (node.httpAddress !== null) parts.push(`HTTP ${node.httpAddress}`);
  return `rivulet node ${node.config.nodeId} (cluster ${node.config.clusterId}, data ${node.config.dataDir}) listening: ${parts.join(', ')}\n`;
}

/** Resolves when SIGINT or SIGTERM arrives. */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: string): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

export function startCommand(io: CliIo): Command {
  const command = new Command('start').description('start a node (settings: flags, then RIVULET_* environment, then --config file, then defaults)');
  command.option('--config <file>', 'config file: JSON, or key=value lines with Rivulet or Kafka names');
  for (const spec of configOptions) for (const option of optionsFor(spec)) command.addOption(option);
  command.action(async (options: Record<string, unknown>) => {
    const config = loadConfig({ flags: options, env: io.env, configFile: options['config'] as string | undefined });
    const node = await startNode(config, { execArgv: process.execArgv });
    await writeOut(io.stdout, listeningMessage(node));
    const signal = await stopSignal();
    await writeOut(io.stderr, `${signal}: stopping\n`);
    await node.stop();
  });
  return command;
}
