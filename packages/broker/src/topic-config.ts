import { RivuletError, topicNameProblem } from '@rivulet/common';

/**
 * Per-topic configuration, named as Kafka names it so users' habits and tools carry over.
 * Only explicit values are stored; everything else falls back to the broker's defaults.
 */
export interface TopicConfig {
  retentionMs: number;
  retentionBytes: number;
  maxMessageBytes: number;
  minInsyncReplicas: number;
  /** Elect a leader outside the ISR when no in-sync replica is alive: availability over acknowledged data. */
  uncleanLeaderElectionEnable: boolean;
  cleanupPolicy: 'delete';
  messageTimestampType: 'CreateTime';
}

export interface TopicConfigDefaults {
  retentionMs: number;
  retentionBytes: number;
  messageMaxBytes: number;
}

interface ConfigKeySpec {
  readonly field: keyof TopicConfig;
  parse(value: string, key: string): TopicConfig[keyof TopicConfig];
}

function invalid(key: string, value: string, why: string): RivuletError {
  return new RivuletError('INVALID_CONFIG', `invalid value "${value}" for topic config ${key}: ${why}`);
}

function integerAtLeast(min: number) {
  return (value: string, key: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isSafeInteger(parsed)) throw invalid(key, value, 'not an integer');
    if (parsed < min) throw invalid(key, value, `must be >= ${min}`);
    return parsed;
  };
}

function bool(value: string, key: string): boolean {
  if (value !== 'true' && value !== 'false') throw invalid(key, value, 'must be true or false');
  return value === 'true';
}

function oneOf<T extends string>(...choices: T[]) {
  return (value: string, key: string): T => {
    if (!choices.includes(value as T)) throw invalid(key, value, `supported values: ${choices.join(', ')}`);
    return value as T;
  };
}

const keys: Record<string, ConfigKeySpec> = {
  'retention.ms': { field: 'retentionMs', parse: integerAtLeast(-1) },
  'retention.bytes': { field: 'retentionBytes', parse: integerAtLeast(-1) },
  'max.message.bytes': { field: 'maxMessageBytes', parse: integerAtLeast(1024) },
  'min.insync.replicas': { field: 'minInsyncReplicas', parse: integerAtLeast(1) },
  'unclean.leader.election.enable': { field: 'uncleanLeaderElectionEnable', parse: bool },
  'cleanup.policy': { field: 'cleanupPolicy', parse: oneOf('delete') },
  'message.timestamp.type': { field: 'messageTimestampType', parse: oneOf('CreateTime') },
};

/** Throws INVALID_CONFIG for a key that is not a topic config. */
export function validateTopicConfigKey(key: string): void {
  if (!keys[key]) throw new RivuletError('INVALID_CONFIG', `unknown topic config ${key}; supported: ${Object.keys(keys).join(', ')}`);
}

/** Checks explicit configs of a create or alter request; throws INVALID_CONFIG naming the key. */
export function validateTopicConfigs(configs: Record<string, string>): void {
  for (const [key, value] of Object.entries(configs)) {
    validateTopicConfigKey(key);
    keys[key]!.parse(value, key);
  }
}

/** min.insync.replicas when a topic does not set it: 2 for replication factor 3 or more, else 1. */
export function defaultMinInsyncReplicas(replicationFactor: number): number {
  return replicationFactor >= 3 ? 2 : 1;
}

/** A topic's effective configs: its explicit values over the broker's defaults. */
export function resolveTopicConfig(configs: Record<string, string>, defaults: TopicConfigDefaults, replicationFactor = 1): TopicConfig {
  const config: TopicConfig = {
    retentionMs: defaults.retentionMs,
    retentionBytes: defaults.retentionBytes,
    maxMessageBytes: defaults.messageMaxBytes,
    minInsyncReplicas: defaultMinInsyncReplicas(replicationFactor),
    uncleanLeaderElectionEnable: false,
    cleanupPolicy: 'delete',
    messageTimestampType: 'CreateTime',
  };
  for (const [key, value] of Object.entries(configs)) {
    const spec = keys[key];
    if (spec) (config as unknown as Record<string, unknown>)[spec.field] = spec.parse(value, key);
  }
  return config;
}

/** The effective configs under their Kafka names, for DescribeTopics. */
export function describeTopicConfig(config: TopicConfig): Record<string, string> {
  const described: Record<string, string> = {};
  for (const [key, spec] of Object.entries(keys)) described[key] = String(config[spec.field]);
  return described;
}

/** Throws INVALID_TOPIC_EXCEPTION for a name Kafka would reject (common's one rule). */
export function validateTopicName(name: string): void {
  const problem = topicNameProblem(name);
  if (problem !== undefined) throw new RivuletError('INVALID_TOPIC_EXCEPTION', problem);
}
