import { Command } from 'commander';
import { RivuletAggregateError, type Admin, type CommittedOffset, type GroupDescription, type GroupLagDescription, type TopicPartitionRef } from '@rivulet/client';
import { RivuletError, topicPartitionKey } from '@rivulet/common';
import { parseInteger, withBootstrap, withClient, type BootstrapOptions } from '../client-options.js';
import { table } from '../format.js';
import { writeOut, type CliIo } from '../io.js';
import {
  parseDatetime,
  parseShift,
  parseTopicSelection,
  planOffsetReset,
  type OffsetResetTarget,
  type PartitionResetState,
  type PlannedOffsetReset,
  type TopicSelection,
} from '../offset-reset.js';

/** A group as `group list` shows it. */
export interface GroupSummary {
  readonly groupId: string;
  readonly state: string;
  readonly protocolType: string;
  readonly memberCount: number;
}

export function formatGroupList(groups: readonly GroupSummary[]): string {
  if (groups.length === 0) return 'no groups\n';
  return table(
    ['GROUP', 'STATE', 'PROTOCOL-TYPE', 'MEMBERS'],
    groups.map((g) => [g.groupId, g.state, g.protocolType || '-', g.memberCount]),
  );
}

/** Partitions as `topic:0,1,2 other:3`, topics in order. */
export function formatPartitions(partitions: readonly TopicPartitionRef[]): string {
  const byTopic = new Map<string, number[]>();
  for (const tp of partitions) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
  return (
    [...byTopic]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([topic, indexes]) => `${topic}:${indexes.sort((a, b) => a - b).join(',')}`)
      .join(' ') || '-'
  );
}

/** `group describe`: the group, its members and what they hold, and its lag per partition and in total. */
export function formatGroupLag(described: GroupLagDescription): string {
  const { group, partitions, totalLag } = described;
  const out: string[] = [];
  out.push(
    `Group: ${group.groupId}  State: ${group.state}  Protocol: ${group.protocolType || '-'}  Assignor: ${group.assignor || '-'}  Members: ${group.members.length}`,
    '',
  );
  if (group.members.length === 0) {
    out.push('no active members');
  } else {
    out.push(
      table(
        ['MEMBER-ID', 'CLIENT-ID', 'HOST', 'GROUP-INSTANCE-ID', 'PARTITIONS'],
        group.members.map((m) => [m.memberId, m.clientId || '-', m.clientHost || '-', m.groupInstanceId ?? '-', formatPartitions(m.assignment)]),
      ).trimEnd(),
    );
  }
  out.push('');
  if (partitions.length === 0) {
    out.push('no committed offsets and no assigned partitions');
  } else {
    out.push(
      table(
        ['TOPIC', 'PARTITION', 'MEMBER-ID', 'COMMITTED-OFFSET', 'LOG-END-OFFSET', 'LAG'],
        partitions.map((p) => [p.topic, p.partition, p.memberId ?? '-', p.committedOffset ?? '-', p.highWatermark ?? '-', p.lag ?? '-']),
      ).trimEnd(),
    );
    out.push(`Total lag: ${totalLag}`);
  }
  return out.join('\n') + '\n';
}

/** Warnings of `group describe` for partitions whose log-end offset could not be looked up. */
function formatHighWatermarkFailures(described: GroupLagDescription): string {
  return described.highWatermarkFailures
    .map((f) => `rivulet: warning: no log-end offset for ${f.topic}-${f.partition ?? '?'} (${f.error.errorName}: ${f.error.message}); its lag is unknown\n`)
    .join('');
}

/** The `reset-offsets` plan, current → new per partition. */
export function formatResetPlan(plan: readonly PlannedOffsetReset[]): string {
  return table(
    ['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'NEW-OFFSET'],
    plan.map((p) => [p.topic, p.partition, p.currentOffset ?? '-', p.newOffset]),
  );
}

interface ResetOptions extends BootstrapOptions {
  readonly topic: TopicSelection[];
  readonly allTopics?: boolean;
  readonly toEarliest?: boolean;
  readonly toLatest?: boolean;
  readonly toOffset?: number;
  readonly toDatetime?: number;
  readonly shiftBy?: number;
  readonly execute?: boolean;
}

/** The one target the options name, or what is wrong with them. */
function resetTarget(options: ResetOptions): OffsetResetTarget | string {
  const targets: OffsetResetTarget[] = [];
  if (options.toEarliest === true) targets.push({ kind: 'earliest' });
  if (options.toLatest === true) targets.push({ kind: 'latest' });
  if (options.toOffset !== undefined) targets.push({ kind: 'offset', offset: options.toOffset });
  if (options.toDatetime !== undefined) targets.push({ kind: 'datetime', timestampMs: options.toDatetime });
  if (options.shiftBy !== undefined) targets.push({ kind: 'shift', by: options.shiftBy });
  if (targets.length !== 1) return 'give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime and --shift-by';
  if ((options.topic.length > 0) === (options.allTopics === true)) return 'give --topic (repeatable) or --all-topics';
  return targets[0]!;
}

/** The partitions the selections name, checked against the topics' metadata; --all-topics: those the group has committed offsets for. */
async function selectedPartitions(admin: Admin, groupId: string, selections: readonly TopicSelection[], committed: readonly CommittedOffset[]): Promise<TopicPartitionRef[]> {
  if (selections.length === 0) {
    if (committed.length === 0) throw new RivuletError('INVALID_REQUEST', `group ${groupId} has no committed offsets: name the topics to reset with --topic`);
    return committed.map((c) => ({ topic: c.topic, partition: c.partition }));
  }
  const metadata = await admin.metadata([...new Set(selections.map((s) => s.topic))]);
  const partitions = new Map<string, TopicPartitionRef>();
  for (const selection of selections) {
    const count = metadata.topics.find((t) => t.name === selection.topic)?.partitions.length ?? 0;
    for (const partition of selection.partitions ?? Array.from({ length: count }, (_, i) => i)) {
      if (partition >= count) {
        throw new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${selection.topic} has no partition ${partition} (it has ${count})`, { topic: selection.topic, partition });
      }
      partitions.set(`${selection.topic}-${partition}`, { topic: selection.topic, partition });
    }
  }
  return [...partitions.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** What planning needs of each partition: committed offset, log start, high watermark, and for a datetime the offset at that time. */
async function resetStates(admin: Admin, partitions: readonly TopicPartitionRef[], committed: readonly CommittedOffset[], target: OffsetResetTarget): Promise<PartitionResetState[]> {
  const key = (tp: TopicPartitionRef): string => topicPartitionKey(tp);
  const lookUp = async (spec: 'earliest' | 'latest' | { timestampMs: number }): Promise<Map<string, number>> =>
    new Map((await admin.listOffsets(partitions.map((tp) => ({ ...tp, spec })))).map((l) => [key(l), l.offset]));
  const [starts, ends, atTime] = await Promise.all([
    lookUp('earliest'),
    lookUp('latest'),
    target.kind === 'datetime' ? lookUp({ timestampMs: target.timestampMs }) : Promise.resolve(new Map<string, number>()),
  ]);
  const committedOffsets = new Map(committed.map((c) => [key(c), c.offset]));
  return partitions.map((tp) => {
    const committedOffset = committedOffsets.get(key(tp)) ?? -1;
    const offsetAtTimestamp = atTime.get(key(tp)) ?? -1;
    return {
      ...tp,
      committedOffset: committedOffset < 0 ? null : committedOffset,
      logStartOffset: starts.get(key(tp))!,
      highWatermark: ends.get(key(tp))!,
      offsetAtTimestamp: offsetAtTimestamp < 0 ? null : offsetAtTimestamp,
    };
  });
}

function nonEmptyGroupRefusal(group: GroupDescription): RivuletError {
  const members = `${group.members.length} active member${group.members.length === 1 ? '' : 's'}`;
  return new RivuletError(
    'NON_EMPTY_GROUP',
    `group ${group.groupId} has ${members} (state ${group.state}): its offsets can be reset only while it is empty; stop its consumers (or wait for their sessions to time out) first`,
  );
}

export function groupCommand(io: CliIo): Command {
  const group = new Command('group').description('list, describe, delete consumer groups and reset their offsets');

  withBootstrap(group.command('list').description("every group of the cluster: state, protocol type and member count"))
    .action(async (options: BootstrapOptions) => {
      const summaries = await withClient(options, io, async (client) => {
        const admin = client.admin();
        const listings = await admin.listGroups();
        const described = await admin.describeGroups(listings.map((g) => g.groupId));
        return listings.map((g, i): GroupSummary => ({ ...g, memberCount: described[i]!.members.length }));
      });
      await writeOut(io.stdout, formatGroupList(summaries));
    });

  withBootstrap(
    group
      .command('describe')
      .description('state, assignor and members of groups (what each holds), and per partition the committed offset, log-end offset (high watermark) and lag, with the total')
      .argument('<groups...>'),
  ).action(async (groupIds: string[], options: BootstrapOptions) => {
    const described = await withClient(options, io, (client) => Promise.all(groupIds.map((id) => client.admin().describeGroupLag(id))));
    await writeOut(io.stderr, described.map(formatHighWatermarkFailures).join(''));
    await writeOut(io.stdout, described.map(formatGroupLag).join('\n'));
  });

  withBootstrap(group.command('delete').description('delete groups that have no members, with their committed offsets').argument('<groups...>'))
    .action(async (groupIds: string[], options: BootstrapOptions) => {
      const unique = [...new Set(groupIds)];
      const failures = await withClient(options, io, async (client) => {
        try {
          await client.admin().deleteGroups(unique);
          return [];
        } catch (err) {
          if (err instanceof RivuletAggregateError) return err.failures;
          throw err;
        }
      });
      await writeOut(io.stdout, unique.filter((id) => !failures.some((f) => f.topic === id)).map((id) => `deleted group ${id}\n`).join(''));
      // One failure reads best as its own error, which names the group.
      if (failures.length === 1) throw failures[0]!.error;
      if (failures.length > 1) throw new RivuletAggregateError('deleteGroups', failures);
    });

  withBootstrap(
    group
      .command('reset-offsets')
      .description('move where an empty group resumes: prints the plan, and commits it with --execute')
      .argument('<group>'),
  )
    .option('--topic <topic[:partitions]>', 'a topic, or some of its partitions as TOPIC:0,1 (repeatable)', (value: string, previous: TopicSelection[]) => [...previous, parseTopicSelection(value)], [])
    .option('--all-topics', 'every partition the group has a committed offset for')
    .option('--to-earliest', 'to the log start offset')
    .option('--to-latest', 'to the log-end offset (high watermark): skip everything not yet consumed')
    .option('--to-offset <n>', 'to offset N (kept between the log start and end)', parseInteger('--to-offset', 0))
    .option('--to-datetime <iso>', 'to the first record at or after a time, e.g. 2024-05-01T12:00:00Z (local time without an offset)', parseDatetime)
    .option('--shift-by <n>', 'move the committed offset by N, negative to go back (kept between the log start and end)', parseShift)
    .option('--execute', 'commit the new offsets; without it nothing changes')
    .action(async (groupId: string, options: ResetOptions, command: Command) => {
      const target = resetTarget(options);
      if (typeof target === 'string') return command.error(`error: ${target}`, { exitCode: 2, code: 'rivulet.usage' });
      const execute = options.execute === true;
      const { group: described, plan } = await withClient(options, io, async (client) => {
        const admin = client.admin();
        const group = (await admin.describeGroups([groupId]))[0]!;
        if (execute && group.members.length > 0) throw nonEmptyGroupRefusal(group);
        const committed = await admin.listGroupOffsets(groupId);
        const partitions = await selectedPartitions(admin, groupId, options.topic, committed);
        const planned = planOffsetReset(groupId, await resetStates(admin, partitions, committed, target), target);
        if (execute) await admin.alterGroupOffsets(groupId, planned.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.newOffset })));
        return { group, plan: planned };
      });
      await writeOut(io.stdout, formatResetPlan(plan));
      if (execute) {
        await writeOut(io.stdout, `committed the new offsets of ${plan.length} partition${plan.length === 1 ? '' : 's'} to group ${groupId}\n`);
      } else if (described.members.length > 0) {
        await writeOut(io.stdout, `dry run: nothing changed. ${nonEmptyGroupRefusal(described).message}, then run again with --execute\n`);
      } else {
        await writeOut(io.stdout, 'dry run: nothing changed; run again with --execute to commit these offsets\n');
      }
    });

  return group;
}
