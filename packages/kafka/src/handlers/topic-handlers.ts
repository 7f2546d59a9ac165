import { ErrorCode, RivuletError } from '@rivulet/common';
import type { TopicDescription, TopicSpec } from '@rivulet/broker';
import type { MessageValue } from '../schema/field.js';
import { messageOrNull, type HandlerContext } from './handler-context.js';
import { ZERO_UUID, topicIdBytes, topicIdText } from './topic-ids.js';

interface CreateTopicsRequestBody {
  topics: {
    name: string;
    numPartitions: number;
    replicationFactor: number;
    assignments: { partitionIndex: number; brokerIds: number[] }[];
    configs: { name: string; value: string | null }[];
  }[];
  validateOnly: boolean;
}

/** Kafka's ConfigSource values (DescribeConfigs and CreateTopics v5+). */
const ConfigSource = { TOPIC_CONFIG: 1, DEFAULT_CONFIG: 5 } as const;
const ResourceType = { TOPIC: 2, BROKER: 4 } as const;

/**
 * A topic spec from a CreateTopics entry. Manual replica assignments fix the partition count
 * and replication factor (Kafka then requires -1 for both); null config values are dropped.
 */
function topicSpecOf(topic: CreateTopicsRequestBody['topics'][number]): TopicSpec {
  const configs: Record<string, string> = {};
  for (const c of topic.configs) if (c.value !== null) configs[c.name] = c.value;
  if (topic.assignments.length > 0) {
    return { name: topic.name, partitions: topic.assignments.length, replicationFactor: topic.assignments[0]!.brokerIds.length, configs };
  }
  return { name: topic.name, partitions: topic.numPartitions, replicationFactor: topic.replicationFactor, configs };
}

/** CreateTopics: v5+ answers also carry the created topic's partitions, replication and configs. */
export async function handleCreateTopics(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as CreateTopicsRequestBody;
  const specs = body.topics.map(topicSpecOf);
  const results = await context.broker.createTopics(specs, body.validateOnly);
  const created = new Map(context.broker.describeTopics(results.filter((r) => r.errorCode === 0 && !body.validateOnly).map((r) => r.name)).map((d) => [d.name, d]));
  return {
    throttleTimeMs: 0,
    topics: results.map((r, i) => {
      const description = created.get(r.name);
      return {
        name: r.name,
        topicId: topicIdBytes(r.topicId),
        errorCode: r.errorCode,
        errorMessage: messageOrNull(r.errorMessage),
        numPartitions: description?.partitions.length ?? -1,
        replicationFactor: description?.partitions[0]?.replicas.length ?? -1,
        configs: description ? configEntries(description, specs[i]!.configs) : null,
      };
    }),
  };
}

function configEntries(description: TopicDescription, explicit: Record<string, string>): MessageValue[] {
  return Object.entries(description.configs).map(([name, value]) => ({
    name,
    value,
    readOnly: false,
    configSource: name in explicit ? ConfigSource.TOPIC_CONFIG : ConfigSource.DEFAULT_CONFIG,
    isSensitive: false,
  }));
}

interface DeleteTopicsRequestBody {
  topics: { name: string | null; topicId: Buffer }[];
  topicNames: string[];
}

/** DeleteTopics: by name (v0-5 list, v6 entries), or in v6 by topic id. */
export async function handleDeleteTopics(request: MessageValue, version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as DeleteTopicsRequestBody;
  const entries = (version >= 6 ? body.topics : body.topicNames.map((name) => ({ name, topicId: ZERO_UUID }))).map((e) => {
    const id = topicIdText(e.topicId);
    return { ...e, resolved: e.name ?? (id === undefined ? undefined : context.broker.topicNameById(id)) };
  });
  const names = entries.flatMap((e) => (e.resolved === undefined ? [] : [e.resolved]));
  const idsBefore = new Map(names.map((name) => [name, context.broker.topicIdOf(name)]));
  const results = new Map((await context.broker.deleteTopics(names)).map((r) => [r.name, r]));
  return {
    throttleTimeMs: 0,
    responses: entries.map((e) => {
      if (e.resolved === undefined) return { name: null, topicId: e.topicId, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, errorMessage: 'no topic has this id' };
      const result = results.get(e.resolved)!;
      return { name: e.resolved, topicId: topicIdBytes(idsBefore.get(e.resolved)), errorCode: result.errorCode, errorMessage: messageOrNull(result.errorMessage) };
    }),
  };
}

interface CreatePartitionsRequestBody {
  topics: { name: string; count: number; assignments: { brokerIds: number[] }[] | null }[];
  validateOnly: boolean;
}

/**
 * CreatePartitions: raises topics' partition counts through the controller, which places the
 * new partitions as it places a new topic's. A topic named twice is refused (INVALID_REQUEST)
 * as Kafka does; manual assignments of the new partitions are refused
 * (INVALID_REPLICA_ASSIGNMENT) rather than silently ignored.
 */
export async function handleCreatePartitions(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as CreatePartitionsRequestBody;
  const seen = new Map<string, number>();
  for (const t of body.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  const refused = new Map<string, { errorCode: number; errorMessage: string }>();
  for (const t of body.topics) {
    if (seen.get(t.name)! > 1) refused.set(t.name, { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `topic ${t.name} appears more than once in the request` });
    else if (t.assignments !== null) {
      refused.set(t.name, { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: 'manual assignments of new partitions are not supported: leave them out and the controller places the partitions' });
    }
  }
  const updates = body.topics.filter((t) => !refused.has(t.name)).map((t) => ({ name: t.name, count: t.count }));
  const answered = new Map(updates.length === 0 ? [] : (await context.broker.createPartitions(updates, body.validateOnly)).map((r) => [r.name, r]));
  const results = [...new Set(body.topics.map((t) => t.name))].map((name) => {
    const result = refused.get(name) ?? answered.get(name)!;
    return { name, errorCode: result.errorCode, errorMessage: messageOrNull(result.errorMessage) };
  });
  return { throttleTimeMs: 0, results };
}

interface DescribeConfigsRequestBody {
  resources: { resourceType: number; resourceName: string; configurationKeys: string[] | null }[];
}

/**
 * DescribeConfigs: topic resources are answered from the broker's resolved topic configs.
 * Broker resources get an empty list (nothing is configurable over Kafka yet); other
 * resource types are refused.
 */
export async function handleDescribeConfigs(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as DescribeConfigsRequestBody;
  const results = body.resources.map((resource) => {
    const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
    if (resource.resourceType === ResourceType.BROKER) return { ...base, errorCode: 0, errorMessage: null, configs: [] };
    if (resource.resourceType !== ResourceType.TOPIC) {
      return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `resource type ${resource.resourceType} is not supported`, configs: [] };
    }
    const [description] = context.broker.describeTopics([resource.resourceName]);
    if (!description || description.errorCode !== 0) {
      const err = new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', description?.errorMessage || undefined);
      return { ...base, errorCode: description?.errorCode ?? err.code, errorMessage: err.message, configs: [] };
    }
    const keys = resource.configurationKeys === null ? null : new Set(resource.configurationKeys);
    const explicit = new Set(description.explicitConfigKeys ?? []);
    const configs = Object.entries(description.configs)
      .filter(([name]) => keys === null || keys.has(name))
      .map(([name, value]) => ({
        name,
        value,
        readOnly: false,
        isDefault: !explicit.has(name),
        configSource: explicit.has(name) ? ConfigSource.TOPIC_CONFIG : ConfigSource.DEFAULT_CONFIG,
        isSensitive: false,
        synonyms: [],
      }));
    return { ...base, errorCode: 0, errorMessage: null, configs };
  });
  return Promise.resolve({ throttleTimeMs: 0, results });
}

/** IncrementalAlterConfigs operations. */
const ConfigOperation = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

interface AlterConfigsResource {
  resourceType: number;
  resourceName: string;
  configs: { name: string; configOperation?: number; value: string | null }[];
}

/**
 * AlterConfigs and IncrementalAlterConfigs: topic resources become one broker call (AlterConfigs
 * replaces a topic's whole explicit config set, the incremental form changes the named keys);
 * broker resources are refused (a node's settings are its start flags), as are a resource named
 * twice and operations that only apply to list-valued configs.
 */
async function alterTopicConfigs(resources: AlterConfigsResource[], validateOnly: boolean, incremental: boolean, context: HandlerContext): Promise<MessageValue> {
  const answers = new Map<number, { errorCode: number; errorMessage: string | null }>();
  const topics: { index: number; name: string; changes: { key: string; value: string | null }[] }[] = [];
  const seen = new Map<string, number>();
  for (const r of resources) seen.set(`${r.resourceType}:${r.resourceName}`, (seen.get(`${r.resourceType}:${r.resourceName}`) ?? 0) + 1);
  resources.forEach((r, index) => {
    const refuse = (errorCode: number, errorMessage: string): void => void answers.set(index, { errorCode, errorMessage });
    if (seen.get(`${r.resourceType}:${r.resourceName}`)! > 1) return refuse(ErrorCode.INVALID_REQUEST, `resource ${r.resourceName} appears more than once in the request`);
    if (r.resourceType === ResourceType.BROKER) return refuse(ErrorCode.INVALID_REQUEST, 'broker configs are set when a node starts (flags, environment, config file); only topic configs can be altered');
    if (r.resourceType !== ResourceType.TOPIC) return refuse(ErrorCode.INVALID_REQUEST, `resource type ${r.resourceType} is not supported`);
    const changes: { key: string; value: string | null }[] = [];
    for (const c of r.configs) {
      const op = incremental ? c.configOperation : ConfigOperation.SET;
      if (op === ConfigOperation.SET) changes.push({ key: c.name, value: c.value });
      else if (op === ConfigOperation.DELETE) changes.push({ key: c.name, value: null });
      else if (op === ConfigOperation.APPEND || op === ConfigOperation.SUBTRACT) return refuse(ErrorCode.INVALID_CONFIG, `config ${c.name} is not a list: APPEND and SUBTRACT do not apply`);
      else return refuse(ErrorCode.INVALID_REQUEST, `unknown config operation ${String(op)} for ${c.name}`);
    }
    topics.push({ index, name: r.resourceName, changes });
  });
  if (topics.length > 0) {
    const results = await context.broker.alterTopicConfigs(topics.map((t) => ({ name: t.name, changes: t.changes })), validateOnly, !incremental);
    topics.forEach((t, i) => answers.set(t.index, { errorCode: results[i]!.errorCode, errorMessage: messageOrNull(results[i]!.errorMessage) }));
  }
  return {
    throttleTimeMs: 0,
    responses: resources.map((r, index) => ({ ...answers.get(index)!, resourceType: r.resourceType, resourceName: r.resourceName })),
  };
}

export function handleAlterConfigs(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as { resources: AlterConfigsResource[]; validateOnly: boolean };
  return alterTopicConfigs(body.resources, body.validateOnly, false, context);
}

export function handleIncrementalAlterConfigs(request: MessageValue, _version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as { resources: AlterConfigsResource[]; validateOnly: boolean };
  return alterTopicConfigs(body.resources, body.validateOnly, true, context);
}
