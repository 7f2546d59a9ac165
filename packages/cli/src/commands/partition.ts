import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import type { OngoingReassignment, PartitionReassignment, RivuletClient } from '@rivulet/client';
import { RivuletError } from '@rivulet/common';
import { parseInteger, withBootstrap, withClient, type BootstrapOptions } from '../client-options.js';
import { table } from '../format.js';
import { writeOut, type CliIo } from '../io.js';

/** Parses `--replicas 1,2,3`: broker ids, at least one. */
export function parseReplicaList(value: string): number[] {
  const ids = value.split(',').map((part) => part.trim());
  if (ids.length === 0 || ids.some((id) => !/^\d+$/.test(id) || !Number.isSafeInteger(Number(id)))) {
    throw new InvalidArgumentError(`--replicas expects comma-separated broker ids such as 1,2,3, got "${value}"`);
  }
  return ids.map(Number);
}

function planProblem(message: string): RivuletError {
  return new RivuletError('INVALID_REQUEST', `reassignment plan: ${message}`);
}

/**
 * Reads Kafka's reassignment JSON, as kafka-reassign-partitions.sh writes it:
 * {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]}, …]}. Other fields
 * of an entry (log_dirs) are ignored.
 */
export function parseReassignmentPlan(text: string): PartitionReassignment[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new RivuletError('INVALID_REQUEST', `reassignment plan: not JSON (${cause instanceof Error ? cause.message : String(cause)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw planProblem('expected an object {"version":1,"partitions":[…]}');
  const { version, partitions } = parsed as Record<string, unknown>;
  if (version !== 1) throw planProblem(`unsupported version ${JSON.stringify(version)}; expected 1`);
  if (!Array.isArray(partitions) || partitions.length === 0) throw planProblem('"partitions" must be a non-empty array');
  return partitions.map((entry: unknown, i) => {
    const where = `partitions[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw planProblem(`${where} must be an object`);
    const { topic, partition, replicas } = entry as Record<string, unknown>;
    if (typeof topic !== 'string' || topic === '') throw planProblem(`${where}.topic must be a topic name`);
    if (typeof partition !== 'number' || !Number.isSafeInteger(partition) || partition < 0) throw planProblem(`${where}.partition must be an integer >= 0`);
    if (!Array.isArray(replicas) || !replicas.every((id) => typeof id === 'number' && Number.isSafeInteger(id) && id >= 0)) {
      throw planProblem(`${where}.replicas must be an array of broker ids`);
    }
    return { topic, partition, replicas: replicas as number[] };
  });
}

/** What is left to do: which adding replicas the ISR still lacks. */
export function reassignmentProgress(r: OngoingReassignment): string {
  const inSync = r.addingReplicas.length - r.addingNotInIsr.length;
  if (r.addingNotInIsr.length === 0) return 'target in sync; completing';
  return `${inSync}/${r.addingReplicas.length} added in sync; waiting for ${r.addingNotInIsr.join(',')}`;
}

/** The `partition reassignments` table. */
export function formatReassignments(reassignments: readonly OngoingReassignment[]): string {
  if (reassignments.length === 0) return 'no reassignments in progress\n';
  return table(
    ['TOPIC', 'PARTITION', 'REPLICAS', 'ADDING', 'REMOVING', 'ISR', 'LEADER', 'PROGRESS'],
    reassignments.map((r) => [
      r.topic,
      r.partition,
      r.replicas.join(','),
      r.addingReplicas.join(',') || '-',
      r.removingReplicas.join(',') || '-',
      r.isr.join(','),
      r.leaderId < 0 ? 'none' : r.leaderId,
      reassignmentProgress(r),
    ]),
  );
}

/** One line per requested partition: still in progress (and what it waits for), or its replicas now. */
async function describeOutcome(client: RivuletClient, requested: readonly PartitionReassignment[]): Promise<string> {
  const topics = [...new Set(requested.map((r) => r.topic))];
  const admin = client.admin();
  const [ongoing, metadata] = await Promise.all([admin.listPartitionReassignments(topics), admin.metadata(topics)]);
  return requested
    .map((r) => {
      const where = `${r.topic}-${r.partition}`;
      const inProgress = ongoing.find((o) => o.topic === r.topic && o.partition === r.partition);
      if (inProgress !== undefined) {
        return `${where}: reassignment in progress, replicas ${inProgress.replicas.join(',')} (adding ${inProgress.addingReplicas.join(',') || '-'}, removing ${inProgress.removingReplicas.join(',') || '-'}); ${reassignmentProgress(inProgress)}\n`;
      }
      const now = metadata.topics.find((t) => t.name === r.topic)?.partitions.find((p) => p.partition === r.partition);
      const verb = r.replicas === null ? 'reassignment cancelled' : 'reassignment complete';
      return `${where}: ${verb}, replicas ${now?.replicas.join(',') ?? '?'}, leader ${now?.leaderId ?? '?'}\n`;
    })
    .join('');
}

async function readPlan(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    throw new RivuletError('INVALID_REQUEST', `cannot read the reassignment plan ${file}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

interface ReassignOptions extends BootstrapOptions {
  readonly replicas?: number[];
  readonly plan?: string;
  readonly cancel?: boolean;
}

/** The reassignments named on the command line (none with --plan), or what is wrong with the usage. */
function reassignmentsToSend(topic: string | undefined, partition: number | undefined, options: ReassignOptions): PartitionReassignment[] | string {
  if (options.plan !== undefined) {
    if (topic !== undefined || options.replicas !== undefined || options.cancel === true) return '--plan takes no TOPIC, PARTITION, --replicas or --cancel';
    return [];
  }
  if (topic === undefined || partition === undefined) return 'TOPIC and PARTITION are required (or --plan FILE)';
  if ((options.replicas === undefined) === (options.cancel !== true)) return 'give exactly one of --replicas and --cancel';
  return [{ topic, partition, replicas: options.cancel === true ? null : options.replicas! }];
}

export function partitionCommand(io: CliIo): Command {
  const partition = new Command('partition').description('reassign partitions to other brokers and follow reassignments');

  withBootstrap(
    partition
      .command('reassign')
      .description('move a partition to new replicas (--replicas), apply a Kafka reassignment plan (--plan), or cancel one (--cancel)')
      .argument('[topic]')
      .argument('[partition]', 'the partition index', parseInteger('PARTITION', 0)),
  )
    .option('--replicas <ids>', 'the new replicas, preferred leader first, e.g. 1,2,3', parseReplicaList)
    .option('--plan <file>', 'Kafka reassignment JSON: {"version":1,"partitions":[{"topic","partition","replicas"}]}')
    .option('--cancel', 'cancel the reassignment in progress, reverting to the replicas from before it')
    .action(async (topic: string | undefined, index: number | undefined, options: ReassignOptions, command: Command) => {
      const decided = reassignmentsToSend(topic, index, options);
      if (typeof decided === 'string') return command.error(`error: ${decided}`, { exitCode: 2, code: 'rivulet.usage' });
      const requested = options.plan !== undefined ? parseReassignmentPlan(await readPlan(options.plan)) : decided;
      const out = await withClient(options, io, async (client) => {
        await client.admin().alterPartitionReassignments(requested);
        return describeOutcome(client, requested);
      });
      await writeOut(io.stdout, out);
    });

  withBootstrap(partition.command('reassignments').description('reassignments in progress and what each waits for (all topics when none named)').argument('[topics...]'))
    .action(async (topics: string[], options: BootstrapOptions) => {
      const ongoing = await withClient(options, io, (client) => client.admin().listPartitionReassignments(topics));
      await writeOut(io.stdout, formatReassignments(ongoing));
    });

  return partition;
}
