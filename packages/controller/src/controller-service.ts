import { RivuletError } from '@rivulet/common';
import { NO_LEADER } from '@rivulet/metadata';
import type { Endpoint } from '@rivulet/metadata';
import { controllerApi } from '@rivulet/proto';
import type { ServiceHandlers } from '@rivulet/transport-grpc';
import type { MetadataLog } from './metadata-log.js';
import type { ReassignmentEntry, ReassignmentOutcome, TopicOutcome } from '@rivulet/metadata';
import type { QuorumController } from './quorum-controller.js';
import type { RaftDriver } from './raft-driver.js';

type Handlers = ServiceHandlers<typeof controllerApi.ControllerServiceService>;

/** Entries per WatchMetadata message; bounds one message and the watcher's apply step. */
const WATCH_ENTRIES_PER_BATCH = 256;

export interface ControllerServiceContext {
  readonly controller: QuorumController;
  readonly log: MetadataLog;
  readonly driver: RaftDriver;
  /** Every quorum member and its address, for DescribeQuorum. */
  readonly members: readonly { readonly id: number; readonly address: string }[];
}

function topicResults(outcomes: readonly TopicOutcome[]): controllerApi.TopicResult[] {
  return outcomes.map((o) => ({ name: o.name, topicId: o.topicId, errorCode: o.error?.code ?? 0, errorMessage: o.error?.message ?? '' }));
}

/** Refusals of a whole request's decision are answers, not call failures; NOT_CONTROLLER and bugs stay failures. */
function isAnswerable(error: unknown): error is RivuletError {
  return error instanceof RivuletError && error.errorName !== 'NOT_CONTROLLER';
}

/**
 * AlterPartitionReassignments entries to decide, and the answers of malformed ones (a cancel
 * that names a target), by request index.
 */
function reassignmentEntries(partitions: readonly controllerApi.ReassignablePartition[]): { entries: ReassignmentEntry[]; indexes: number[]; refused: Map<number, ReassignmentOutcome> } {
  const entries: ReassignmentEntry[] = [];
  const indexes: number[] = [];
  const refused = new Map<number, ReassignmentOutcome>();
  partitions.forEach((p, index) => {
    if (p.cancel && p.targetReplicas.length > 0) {
      const message = `A cancellation of ${p.topic}-${p.partition} must not name target replicas`;
      refused.set(index, { topic: p.topic, partition: p.partition, error: new RivuletError('INVALID_REQUEST', message, { topic: p.topic, partition: p.partition }) });
      return;
    }
    entries.push({ topic: p.topic, partition: p.partition, targetReplicas: p.cancel ? null : [...p.targetReplicas] });
    indexes.push(index);
  });
  return { entries, indexes, refused };
}

function toEndpoints(endpoints: readonly controllerApi.Endpoint[]): Endpoint[] {
  return endpoints.map((e) => {
    if (e.name === '' || e.host === '' || !Number.isInteger(e.port) || e.port <= 0 || e.port > 65535) {
      throw new RivuletError('INVALID_REQUEST', `invalid endpoint ${JSON.stringify(e)}: name, host and a port in 1..65535 are required`);
    }
    return { name: e.name, host: e.host, port: e.port };
  });
}

/**
 * The gRPC face of the controller quorum. Requests are checked for shape here; the rules
 * live in @rivulet/metadata's decisions, run by the QuorumController.
 */
export function controllerServiceHandlers(ctx: ControllerServiceContext): Handlers {
  const { controller, log, driver } = ctx;
  return {
    registerBroker: async (request) => {
      if (request.incarnationId === '') throw new RivuletError('INVALID_REQUEST', 'incarnation id is required');
      const result = await controller.registerBroker({
        brokerId: request.brokerId,
        clusterId: request.clusterId,
        incarnationId: request.incarnationId,
        endpoints: toEndpoints(request.endpoints),
        rack: request.rack === '' ? null : request.rack,
      });
      return { brokerEpoch: result.brokerEpoch, caughtUpOffset: result.caughtUpOffset };
    },
    brokerHeartbeat: async (request) => {
      const outcome = await controller.brokerHeartbeat(request);
      return { isFenced: outcome.isFenced, shouldShutDown: outcome.shouldShutDown, metadataOffset: outcome.offset };
    },
    createTopics: async (request) => {
      const specs = request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions,
        replicationFactor: t.replicationFactor,
        configs: Object.fromEntries(t.configs.map((c) => [c.key, c.value])),
      }));
      const outcome = await controller.createTopics(specs, request.validateOnly);
      return { results: topicResults(outcome.value), metadataOffset: outcome.offset };
    },
    deleteTopics: async (request) => {
      const outcome = await controller.deleteTopics(request.names);
      return { results: topicResults(outcome.value), metadataOffset: outcome.offset };
    },
    alterTopicConfigs: async (request) => {
      const topics = request.topics.map((t) => ({ name: t.name, changes: t.changes.map((c) => ({ key: c.key, value: c.remove ? null : c.value })) }));
      const outcome = await controller.alterTopicConfigs(topics, request.validateOnly);
      return { results: topicResults(outcome.value), metadataOffset: outcome.offset };
    },
    allocateProducerIds: async (request) => {
      const outcome = await controller.allocateProducerIds(request.brokerId, request.brokerEpoch);
      return { producerIdStart: outcome.value.start, producerIdLen: outcome.value.length, metadataOffset: outcome.offset };
    },
    createPartitions: async (request) => {
      const outcome = await controller.createPartitions(request.topics, request.validateOnly);
      return { results: topicResults(outcome.value), metadataOffset: outcome.offset };
    },
    alterPartition: async (request) => {
      try {
        const outcome = await controller.alterPartition({ ...request, newIsr: request.newIsr });
        const p = outcome.value;
        return { errorCode: 0, errorMessage: '', leaderId: p.leader, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, isr: [...p.isr], metadataOffset: outcome.offset };
      } catch (error) {
        // Refusals of this partition's change are answers, not call failures.
        if (!(error instanceof RivuletError) || error.errorName === 'NOT_CONTROLLER') throw error;
        return { errorCode: error.code, errorMessage: error.message, leaderId: NO_LEADER, leaderEpoch: -1, partitionEpoch: -1, isr: [], metadataOffset: log.offset };
      }
    },
    alterPartitionReassignments: async (request) => {
      const { entries, indexes, refused } = reassignmentEntries(request.partitions);
      const outcome = entries.length > 0 ? await controller.alterPartitionReassignments(entries) : { value: [], offset: log.offset };
      const outcomes = new Map(refused);
      outcome.value.forEach((o, i) => outcomes.set(indexes[i]!, o));
      const results = request.partitions.map((_, index) => {
        const o = outcomes.get(index)!;
        return { topic: o.topic, partition: o.partition, errorCode: o.error?.code ?? 0, errorMessage: o.error?.message ?? '' };
      });
      return { results, metadataOffset: outcome.offset };
    },
    listPartitionReassignments: async (request) => {
      const outcome = await controller.listPartitionReassignments(request.topics);
      return {
        reassignments: outcome.value.reassignments.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          replicas: [...r.replicas],
          addingReplicas: [...r.addingReplicas],
          removingReplicas: [...r.removingReplicas],
          isr: [...r.isr],
          leaderId: r.leader,
          addingNotInIsr: [...r.addingNotInIsr],
        })),
        topicErrors: outcome.value.unknownTopics.map((name) => {
          const error = new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist`, { topic: name });
          return { name, topicId: '', errorCode: error.code, errorMessage: error.message };
        }),
        metadataOffset: outcome.offset,
      };
    },
    drainBroker: async (request) => {
      try {
        const outcome = await controller.drainBroker(request.brokerId);
        const started = outcome.value.map(({ move, leaderId }) => ({ topic: move.topic, partition: move.partition, targetReplicas: [...move.targetReplicas], leaderId }));
        return { errorCode: 0, errorMessage: '', started, metadataOffset: outcome.offset };
      } catch (error) {
        if (!isAnswerable(error)) throw error;
        return { errorCode: error.code, errorMessage: error.message, started: [], metadataOffset: log.offset };
      }
    },
    electLeaders: async (request) => {
      let wanted: { topicId: string; partition: number }[] | undefined;
      if (request.topics.length > 0) {
        wanted = request.topics.flatMap((t) => {
          const topic = log.image.topicsByName.get(t.topic);
          if (topic === undefined) throw new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${t.topic}' does not exist`, { topic: t.topic });
          const partitions = t.partitions.length > 0 ? t.partitions : [...topic.partitions.keys()];
          return partitions.map((partition) => ({ topicId: topic.topicId, partition }));
        });
      }
      const outcome = await controller.electLeaders(wanted);
      return { moved: outcome.value, metadataOffset: outcome.offset };
    },
    describeQuorum: () => {
      const status = driver.status();
      const isLeader = status.role === 'leader';
      const ages = isLeader ? controller.heartbeatAges() : new Map<number, number>();
      const health = controller.partitionHealth();
      return Promise.resolve({
        nodeId: status.id,
        leaderId: status.leaderId ?? -1,
        term: status.term,
        commitIndex: status.commitIndex,
        appliedIndex: log.offset,
        role: status.role,
        members: ctx.members.map((m) => ({ nodeId: m.id, address: m.address })),
        brokers: [...log.image.brokers.values()].map((b) => ({
          brokerId: b.brokerId,
          brokerEpoch: b.brokerEpoch,
          state: b.state,
          rack: b.rack ?? '',
          endpoints: b.endpoints.map((e) => ({ ...e })),
          lastHeartbeatAgeMs: ages.get(b.brokerId) ?? -1,
        })),
        topicCount: health.topics,
        partitionCount: health.partitions,
        offlinePartitionCount: health.offline,
        underReplicatedPartitionCount: health.underReplicated,
      });
    },
    watchMetadata: async (request, write, signal) => {
      let after = request.afterOffset;
      while (!signal.aborted) {
        const delta = log.deltaAfter(after, WATCH_ENTRIES_PER_BATCH);
        if (delta === null) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              unsubscribe();
              signal.removeEventListener('abort', done);
              resolve();
            };
            const unsubscribe = log.onChange(done);
            signal.addEventListener('abort', done);
          });
          continue;
        }
        if (delta.snapshot) {
          await write({ snapshot: true, entries: [{ offset: delta.entry.offset, records: Buffer.from(delta.entry.records) }] });
          after = delta.entry.offset;
        } else {
          if (delta.entries.length === 0) continue;
          await write({ snapshot: false, entries: delta.entries.map((e) => ({ offset: e.offset, records: Buffer.from(e.records.buffer, e.records.byteOffset, e.records.byteLength) })) });
          after = delta.entries[delta.entries.length - 1]!.offset;
        }
      }
    },
  };
}
