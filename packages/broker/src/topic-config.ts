import { RivuletError, topicNameProblem } from '@rivulet/common';
import type { PartitionLogConfig } from '@rivulet/storage';

/**
 * cleanup.policy as a set: `delete` (retention), `compact` (the latest record per key stays),
 * or both. Kafka takes a list; "delete,compact" and "compact,delete" are the same policy.
 */
export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

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
  cleanupPolicy: CleanupPolicy;
  /** min.cleanable.dirty.ratio: the share of dirty bytes that makes a compaction pass worth running. */
  minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms: records younger than this are not compacted. */
  minCompactionLagMs: number;
  /** max.compaction.lag.ms: dirty records older than this force a pass; Kafka's Long.MAX_VALUE (never) is held as Number.MAX_SAFE_INTEGER. */
  maxCompactionLagMs: number;
  /** delete.retention.ms: how long a tombstone stays in a compacted topic. */
  deleteRetentionMs: number;
  messageTimestampType: 'CreateTime';
}

/** Kafka's defaults for the compaction configs (LogConfig). */
export const DEFAULT_MIN_CLEANABLE_DIRTY_RATIO = 0.5;
export const DEFAULT_MIN_COMPACTION_LAG_MS = 0;
export const DEFAULT_MAX_COMPACTION_LAG_MS = Number.MAX_SAFE_INTEGER;
export const DEFAULT_DELETE_RETENTION_MS = 86_400_000;
/** Java's Long.MAX_VALUE, how Kafka writes "never" for max.compaction.lag.ms. */
const LONG_MAX_TEXT = '9223372036854775807';
const LONG_MAX = 2n ** 63n - 1n;

export interface TopicConfigDefaults {
  retentionMs: number;
  retentionBytes: number;
  messageMaxBytes: number;
}

interface ConfigKeySpec {
  readonly field: keyof TopicConfig;
  parse(value: string, key: string): TopicConfig[keyof TopicConfig];
  /** The value as DescribeConfigs shows it; String(value) when absent. */
  describe?(value: TopicConfig[keyof TopicConfig]): string;
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

/**
 * A Java long of at least `min` (up to Long.MAX_VALUE); values past 2^53 - 1 (some 285,000
 * years of milliseconds) are held as Number.MAX_SAFE_INTEGER, which means "never".
 */
function longAtLeast(min: number) {
  return (value: string, key: string): number => {
    if (!/^\s*[+-]?\d+\s*$/.test(value)) throw invalid(key, value, 'not an integer');
    const parsed = BigInt(value.trim());
    if (parsed > LONG_MAX) throw invalid(key, value, `must be at most ${LONG_MAX_TEXT}`);
    if (parsed < BigInt(min)) throw invalid(key, value, `must be >= ${min}`);
    return parsed >= BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(parsed);
  };
}

function describeLong(value: TopicConfig[keyof TopicConfig]): string {
  return value === Number.MAX_SAFE_INTEGER ? LONG_MAX_TEXT : String(value);
}

function ratio(value: string, key: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) throw invalid(key, value, 'not a number');
  if (parsed < 0 || parsed > 1) throw invalid(key, value, 'must be between 0 and 1');
  return parsed;
}

function cleanupPolicy(value: string, key: string): CleanupPolicy {
  const items = value.split(',').map((item) => item.trim());
  for (const item of items) {
    if (item !== 'delete' && item !== 'compact') throw invalid(key, value, 'a list of delete and compact (e.g. "compact" or "compact,delete")');
  }
  const hasCompact = items.includes('compact');
  const hasDelete = items.includes('delete');
  return hasCompact && hasDelete ? 'compact,delete' : hasCompact ? 'compact' : 'delete';
}

/** Whether the policy keeps the latest record per key (the broker runs the log cleaner). */
export function isCompacted(policy: CleanupPolicy): boolean {
  return policy !== 'delete';
}

/** The retention the log applies: retention.ms and retention.bytes only when the policy includes delete, as in Kafka. */
export function logRetentionOf(config: TopicConfig): PartitionLogConfig {
  if (config.cleanupPolicy === 'compact') return { retentionMs: -1, retentionBytes: -1 };
  return { retentionMs: config.retentionMs, retentionBytes: config.retentionBytes };
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
  'cleanup.policy': { field: 'cleanupPolicy', parse: cleanupPolicy },
  'min.cleanable.dirty.ratio': { field: 'minCleanableDirtyRatio', parse: ratio },
  'min.compaction.lag.ms': { field: 'minCompactionLagMs', parse: longAtLeast(0), describe: describeLong },
  'max.compaction.lag.ms': { field: 'maxCompactionLagMs', parse: longAtLeast(1), describe: describeLong },
  'delete.retention.ms': { field: 'deleteRetentionMs', parse: longAtLeast(0), describe: describeLong },
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
    minCleanableDirtyRatio: DEFAULT_MIN_CLEANABLE_DIRTY_RATIO,
    minCompactionLagMs: DEFAULT_MIN_COMPACTION_LAG_MS,
    maxCompactionLagMs: DEFAULT_MAX_COMPACTION_LAG_MS,
    deleteRetentionMs: DEFAULT_DELETE_RETENTION_MS,
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
  for (const [key, spec] of Object.entries(keys)) described[key] = spec.describe?.(config[spec.field]) ?? String(config[spec.field]);
  return described;
}

/**
 * Checks what no single key can: min.insync.replicas within the replication factor, and
 * min.compaction.lag.ms not above max.compaction.lag.ms (Kafka refuses that too).
 */
export function checkTopicConfigConsistency(config: TopicConfig, replicationFactor: number, topic: string): void {
  if (config.minInsyncReplicas > replicationFactor) {
    throw new RivuletError('INVALID_CONFIG', `min.insync.replicas ${config.minInsyncReplicas} is larger than the replication factor ${replicationFactor}`, { topic });
  }
  if (config.minCompactionLagMs > config.maxCompactionLagMs) {
    throw new RivuletError('INVALID_CONFIG', `min.compaction.lag.ms ${config.minCompactionLagMs} is larger than max.compaction.lag.ms ${describeLong(config.maxCompactionLagMs)}`, { topic });
  }
}

/** Throws INVALID_TOPIC_EXCEPTION for a name Kafka would reject (common's one rule). */
export function validateTopicName(name: string): void {
  const problem = topicNameProblem(name);
  if (problem !== undefined) throw new RivuletError('INVALID_TOPIC_EXCEPTION', problem);
}
