import { Command } from 'commander';
import type { BrokerRegistration, ClusterDescription, ClusterMetadata, QuorumDescription } from '@rivulet/client';
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

/** How long ago a broker was last heard from; `-` when the answering member does not know. */
export function formatHeartbeatAge(ms: number): string {
  if (ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms ago`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s ago`;
  return `${formatUptime(ms)} ago`;
}

/** What `cluster status` gathered: a broker's description and metadata, and every controller's answer. */
export interface ClusterStatus {
  readonly description: ClusterDescription;
  readonly metadata: ClusterMetadata;
  /** Undefined when the broker named no controllers (an older node). */
  readonly quorum: QuorumDescription | undefined;
}

function brokerRow(b: BrokerRegistration): (string | number)[] {
  const grpc = b.endpoints.find((e) => e.name === 'grpc');
  const kafka = b.endpoints.find((e) => e.name === 'kafka');
  const host = grpc?.host ?? kafka?.host ?? '-';
  return [b.brokerId, b.state, b.brokerEpoch, host, grpc?.port ?? '-', kafka !== undefined && kafka.port > 0 ? kafka.port : '-', b.rack || '-', formatHeartbeatAge(b.lastHeartbeatAgeMs)];
}

/** Renders `cluster status`: cluster id, controllers, brokers, unhealthy partitions and the answering node. */
export function formatClusterStatus(status: ClusterStatus): string {
  const { description, metadata, quorum } = status;
  const partitions = metadata.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, ...p })));
  const unhealthy = partitions.filter((p) => p.leaderId < 0 || p.isr.length < p.replicas.length);
  const out: string[] = [];
  out.push(`Cluster: ${description.clusterId}`);
  out.push(`Topics: ${metadata.topics.filter((t) => !t.isInternal).length}, partitions: ${partitions.length}`);

  out.push('', 'CONTROLLERS');
  const active = quorum?.active;
  if (quorum === undefined) {
    out.push('(the answering broker does not name the controller quorum)');
  } else {
    out.push(
      table(
        ['ID', 'ADDRESS', 'ROLE', 'LEADER', 'TERM', 'COMMIT-INDEX', 'APPLIED-INDEX', 'LAG'],
        quorum.controllers.map((c) =>
          c.reachable
            ? [c.nodeId, c.address, c.view.role, c.view.nodeId === active?.nodeId ? 'yes' : '', c.view.term, c.view.commitIndex, c.view.appliedIndex, c.lag ?? '-']
            : [c.nodeId, c.address, '-', '', '-', '-', '-', 'unreachable'],
        ),
      ).trimEnd(),
    );
    for (const c of quorum.controllers) if (!c.reachable) out.push(`controller ${c.nodeId} unreachable: ${c.error}`);
    const reachable = quorum.controllers.filter((c) => c.reachable).length;
    out.push(
      active !== undefined
        ? `Active controller: ${active.nodeId} (term ${active.term}); ${reachable} of ${quorum.controllers.length} controllers answered`
        : `No active controller answered; ${reachable} of ${quorum.controllers.length} controllers answered`,
    );
  }

  out.push('', 'BROKERS');
  if (active !== undefined) {
    out.push(table(['ID', 'STATE', 'EPOCH', 'HOST', 'GRPC', 'KAFKA', 'RACK', 'LAST-HEARTBEAT'], active.brokers.map(brokerRow)).trimEnd());
    out.push(
      `Registered: ${active.brokers.length} (${active.brokers.filter((b) => b.state === 'unfenced').length} unfenced); ` +
        `the active controller counts ${active.offlinePartitionCount} offline and ${active.underReplicatedPartitionCount} under-replicated partitions`,
    );
  } else {
    out.push('(no active controller answered: live brokers as the answering broker sees them)');
    out.push(table(['ID', 'HOST', 'GRPC', 'KAFKA', 'RACK'], description.brokers.map((b) => [b.nodeId, b.host, b.grpcPort, b.kafkaPort > 0 ? b.kafkaPort : '-', b.rack || '-'])).trimEnd());
  }

  out.push('', 'PARTITIONS WITHOUT A LEADER OR WITH A SHRUNKEN ISR');
  if (unhealthy.length === 0) {
    out.push(partitions.length === 0 ? 'none: there are no partitions' : `none: all ${partitions.length} partitions have a leader and every replica in sync`);
  } else {
    out.push(
      table(
        ['TOPIC', 'PARTITION', 'LEADER', 'REPLICAS', 'ISR'],
        unhealthy.map((p) => [p.topic, p.partition, p.leaderId < 0 ? 'none' : p.leaderId, p.replicas.join(','), p.isr.join(',') || '-']),
      ).trimEnd(),
    );
  }

  const self = description.node;
  if (self !== undefined) {
    out.push(
      '',
      `Node ${self.nodeId} (answering): version ${self.version}, roles ${self.roles}, up ${formatUptime(self.uptimeMs)}, ` +
        `${self.partitionCount} partitions (${self.leaderCount} led), ${formatBytes(self.logSizeBytes)} on disk, data dir ${self.dataDir}`,
    );
  }
  return out.join('\n') + '\n';
}

export function clusterCommand(io: CliIo): Command {
  const cluster = new Command('cluster').description('cluster information');
  withBootstrap(cluster.command('status').description('controllers (leader, term, lag), brokers (state, epoch, heartbeat) and partitions without a leader or full ISR'))
    .action(async (options: BootstrapOptions) => {
      const status = await withClient(options, io, async (client): Promise<ClusterStatus> => {
        const admin = client.admin();
        const description = await admin.describeCluster();
        const [metadata, quorum] = await Promise.all([
          admin.metadata(),
          description.controllers.length > 0 ? admin.describeQuorum({ controllers: description.controllers }) : Promise.resolve(undefined),
        ]);
        return { description, metadata, quorum };
      });
      await writeOut(io.stdout, formatClusterStatus(status));
    });
  return cluster;
}
