import { Command } from 'commander';
import { withBootstrap, withClient, type BootstrapOptions } from '../client-options.js';
import { table } from '../format.js';
import { formatBytes } from '../progress.js';
import { writeOut, type CliIo } from '../io.js';

function formatUptime(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h}h${m}m` : m > 0 ? `${m}m${seconds % 60}s` : `${seconds}s`;
}

export function clusterCommand(io: CliIo): Command {
  const cluster = new Command('cluster').description('cluster information');
  withBootstrap(cluster.command('status').description('cluster id, controller, brokers and the answering node'))
    .action(async (options: BootstrapOptions) => {
      const { description, metadata } = await withClient(options, io, async (client) => ({
        description: await client.admin().describeCluster(),
        metadata: await client.admin().metadata(),
      }));
      const lines = [`Cluster: ${description.clusterId}`, `Controller: ${description.controllerId}`, `Topics: ${metadata.topics.filter((t) => !t.isInternal).length}`, ''];
      lines.push(table(['NODE', 'HOST', 'GRPC', 'KAFKA', 'RACK'], description.brokers.map((b) => [b.nodeId, b.host, b.grpcPort, b.kafkaPort > 0 ? b.kafkaPort : '-', b.rack || '-'])));
      const self = description.node;
      if (self !== undefined) {
        lines.push(
          `Node ${self.nodeId} (answering): version ${self.version}, roles ${self.roles}, up ${formatUptime(self.uptimeMs)}, ` +
            `${self.partitionCount} partitions (${self.leaderCount} led), ${formatBytes(self.logSizeBytes)} on disk, data dir ${self.dataDir}\n`,
        );
      }
      await writeOut(io.stdout, lines.join('\n'));
    });
  return cluster;
}
