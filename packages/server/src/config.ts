import { readFileSync } from 'node:fs';
import { RivuletError } from '@rivulet/common';
import { parsePeers, type RaftPeerConfig } from '@rivulet/controller';

/**
 * Every setting has a flag, an environment variable and a default that works on a laptop.
 * Precedence, highest first: flags, environment (RIVULET_*), config file, defaults. The
 * table below is the single source: the CLI builds its `start` options from it and the
 * README's configuration table lists it.
 */
export type OptionType = 'int' | 'string' | 'bool' | 'enum';

export interface OptionSpec {
  /** The camelCase key in NodeConfig and in config files. */
  readonly name: keyof NodeConfig;
  readonly type: OptionType;
  readonly description: string;
  readonly choices?: readonly string[];
  /** Kafka's name for the same setting, accepted in config files. */
  readonly kafkaName?: string;
}

export type NodeRoles = 'combined' | 'broker' | 'controller';

export interface NodeConfig {
  nodeId: number;
  clusterId: string;
  roles: NodeRoles;
  controllerQuorum: string;
  rack: string;
  brokerSessionTimeoutMs: number;
  brokerHeartbeatIntervalMs: number;
  autoLeaderRebalance: boolean;
  leaderImbalanceCheckIntervalMs: number;
  replicaLagTimeMaxMs: number;
  reassignmentThrottleBytesPerSec: number;
  dataDir: string;
  host: string;
  advertisedHost: string;
  grpcPort: number;
  kafkaPort: number;
  httpPort: number;
  advertisedGrpcPort: number;
  advertisedKafkaPort: number;
  flushPolicy: 'os' | 'always';
  logTailCacheBytes: number;
  autoCreateTopics: boolean;
  defaultPartitions: number;
  defaultReplicationFactor: number;
  retentionMs: number;
  retentionBytes: number;
  retentionCheckIntervalMs: number;
  logCleanerBackoffMs: number;
  producerIdExpirationMs: number;
  offsetsTopicPartitions: number;
  offsetsTopicReplicationFactor: number;
  offsetsCommitTimeoutMs: number;
  offsetsRetentionMs: number;
  offsetsRetentionCheckIntervalMs: number;
  offsetMetadataMaxBytes: number;
  groupMinSessionTimeoutMs: number;
  groupMaxSessionTimeoutMs: number;
  groupInitialRebalanceDelayMs: number;
  groupMaxSize: number;
  messageMaxBytes: number;
  fetchMaxBytes: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
  logFormat: 'auto' | 'json' | 'pretty';
}

export const defaultConfig: NodeConfig = {
  nodeId: 1,
  clusterId: 'rivulet-dev',
  roles: 'combined',
  controllerQuorum: '',
  rack: '',
  brokerSessionTimeoutMs: 2000,
  brokerHeartbeatIntervalMs: 500,
  autoLeaderRebalance: true,
  leaderImbalanceCheckIntervalMs: 5000,
  replicaLagTimeMaxMs: 10_000,
  reassignmentThrottleBytesPerSec: -1,
  dataDir: './data',
  host: '127.0.0.1',
  advertisedHost: '',
  grpcPort: 9093,
  kafkaPort: 9092,
  httpPort: 8080,
  advertisedGrpcPort: 0,
  advertisedKafkaPort: 0,
  flushPolicy: 'os',
  logTailCacheBytes: 64 * 1024 * 1024,
  autoCreateTopics: true,
  defaultPartitions: 1,
  defaultReplicationFactor: 1,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  retentionCheckIntervalMs: 5 * 60 * 1000,
  logCleanerBackoffMs: 15_000,
  producerIdExpirationMs: 24 * 60 * 60 * 1000,
  offsetsTopicPartitions: 50,
  offsetsTopicReplicationFactor: 3,
  offsetsCommitTimeoutMs: 5_000,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600_000,
  offsetMetadataMaxBytes: 4096,
  groupMinSessionTimeoutMs: 6_000,
  groupMaxSessionTimeoutMs: 1_800_000,
  groupInitialRebalanceDelayMs: 3_000,
  groupMaxSize: 1_000,
  messageMaxBytes: 1_048_588,
  fetchMaxBytes: 52_428_800,
  logLevel: 'info',
  logFormat: 'auto',
};

export const configOptions: readonly OptionSpec[] = [
  { name: 'nodeId', type: 'int', description: 'This node\'s id, unique in the cluster', kafkaName: 'node.id' },
  { name: 'clusterId', type: 'string', description: 'Cluster id; brokers and controllers of one cluster must agree on it' },
  {
    name: 'roles',
    type: 'enum',
    choices: ['combined', 'broker', 'controller'],
    description: 'What this node runs: a broker, a controller-quorum member, or both ("combined")',
    kafkaName: 'process.roles',
  },
  {
    name: 'controllerQuorum',
    type: 'string',
    description: 'The controller quorum as id@host:port,… (gRPC addresses); empty: this node alone (combined only)',
    kafkaName: 'controller.quorum.voters',
  },
  { name: 'rack', type: 'string', description: 'Rack (or zone) of this broker; replicas of a partition are spread over racks', kafkaName: 'broker.rack' },
  {
    name: 'brokerSessionTimeoutMs',
    type: 'int',
    description: 'A broker that has not heartbeaten for this long is fenced and loses its leaderships',
    kafkaName: 'broker.session.timeout.ms',
  },
  { name: 'brokerHeartbeatIntervalMs', type: 'int', description: 'How often a broker heartbeats to the controller', kafkaName: 'broker.heartbeat.interval.ms' },
  {
    name: 'autoLeaderRebalance',
    type: 'bool',
    description: 'Move leadership back to preferred replicas when they are in sync again',
    kafkaName: 'auto.leader.rebalance.enable',
  },
  {
    name: 'leaderImbalanceCheckIntervalMs',
    type: 'int',
    description: 'How often the controller looks for partitions not led by their preferred replica',
  },
  {
    name: 'replicaLagTimeMaxMs',
    type: 'int',
    description: 'A follower that has not caught up with its leader for this long leaves the ISR',
    kafkaName: 'replica.lag.time.max.ms',
  },
  {
    name: 'reassignmentThrottleBytesPerSec',
    type: 'int',
    description: 'Bytes per second a broker copies for replicas a reassignment adds to it (-1: no limit); in-sync replication is never throttled',
    kafkaName: 'follower.replication.throttled.rate',
  },
  { name: 'dataDir', type: 'string', description: 'Directory holding the LevelDB database with every partition replica', kafkaName: 'log.dirs' },
  { name: 'host', type: 'string', description: 'Interface the listeners bind to (0.0.0.0 for every interface)' },
  { name: 'advertisedHost', type: 'string', description: 'Host clients should connect to (default: host, or the machine\'s hostname when host is 0.0.0.0)' },
  { name: 'grpcPort', type: 'int', description: 'gRPC listener: client API (0 picks a free port)' },
  { name: 'kafkaPort', type: 'int', description: 'Kafka wire-protocol listener (0 picks a free port, -1 disables it)' },
  { name: 'httpPort', type: 'int', description: 'HTTP listener: /healthz, /readyz, /metrics (0 picks a free port, -1 disables it)' },
  { name: 'advertisedGrpcPort', type: 'int', description: 'gRPC port clients should connect to (default: the bound port)' },
  { name: 'advertisedKafkaPort', type: 'int', description: 'Kafka port clients should connect to (default: the bound port)' },
  { name: 'flushPolicy', type: 'enum', choices: ['os', 'always'], description: '"always": fsync every group-committed write before acknowledging; "os": let the OS flush (Kafka\'s default)' },
  {
    name: 'logTailCacheBytes',
    type: 'int',
    description: 'Memory for the newest batches of every partition, so in-sync followers and consumers at the log end read without LevelDB (0: off)',
  },
  { name: 'autoCreateTopics', type: 'bool', description: 'Create a topic on first produce or metadata request', kafkaName: 'auto.create.topics.enable' },
  { name: 'defaultPartitions', type: 'int', description: 'Partitions of auto-created topics', kafkaName: 'num.partitions' },
  { name: 'defaultReplicationFactor', type: 'int', description: 'Replication factor of auto-created topics', kafkaName: 'default.replication.factor' },
  { name: 'retentionMs', type: 'int', description: 'Default retention.ms of topics (-1: keep forever)', kafkaName: 'log.retention.ms' },
  { name: 'retentionBytes', type: 'int', description: 'Default retention.bytes per partition (-1: unlimited)', kafkaName: 'log.retention.bytes' },
  { name: 'retentionCheckIntervalMs', type: 'int', description: 'How often retention runs', kafkaName: 'log.retention.check.interval.ms' },
  {
    name: 'logCleanerBackoffMs',
    type: 'int',
    description: 'How often the log cleaner looks for replicas of compacted topics (cleanup.policy compact) due for a pass',
    kafkaName: 'log.cleaner.backoff.ms',
  },
  { name: 'producerIdExpirationMs', type: 'int', description: 'A partition forgets an idempotent producer idle this long (checked when retention runs)', kafkaName: 'producer.id.expiration.ms' },
  {
    name: 'offsetsTopicPartitions',
    type: 'int',
    description: 'Partitions of the internal __consumer_offsets topic (fixed once it exists: each group lives in one of them)',
    kafkaName: 'offsets.topic.num.partitions',
  },
  {
    name: 'offsetsTopicReplicationFactor',
    type: 'int',
    description: 'Replicas of __consumer_offsets partitions (fewer if fewer brokers are alive when it is created)',
    kafkaName: 'offsets.topic.replication.factor',
  },
  { name: 'offsetsCommitTimeoutMs', type: 'int', description: 'How long an offset commit or a group assignment waits to be replicated', kafkaName: 'offsets.commit.timeout.ms' },
  { name: 'offsetsRetentionMs', type: 'int', description: 'Committed offsets of a group that has been empty this long are removed (Kafka: offsets.retention.minutes × 60000)' },
  { name: 'offsetsRetentionCheckIntervalMs', type: 'int', description: 'How often expired committed offsets are looked for', kafkaName: 'offsets.retention.check.interval.ms' },
  { name: 'offsetMetadataMaxBytes', type: 'int', description: 'Largest metadata string an offset commit may carry', kafkaName: 'offset.metadata.max.bytes' },
  { name: 'groupMinSessionTimeoutMs', type: 'int', description: 'Shortest session timeout a group member may ask for', kafkaName: 'group.min.session.timeout.ms' },
  { name: 'groupMaxSessionTimeoutMs', type: 'int', description: 'Longest session timeout a group member may ask for', kafkaName: 'group.max.session.timeout.ms' },
  {
    name: 'groupInitialRebalanceDelayMs',
    type: 'int',
    description: 'How long the first rebalance of an empty group waits for more members to join',
    kafkaName: 'group.initial.rebalance.delay.ms',
  },
  { name: 'groupMaxSize', type: 'int', description: 'Most members one consumer group may have', kafkaName: 'group.max.size' },
  { name: 'messageMaxBytes', type: 'int', description: 'Largest record batch a produce may carry', kafkaName: 'message.max.bytes' },
  { name: 'fetchMaxBytes', type: 'int', description: 'Largest fetch response the broker builds', kafkaName: 'fetch.max.bytes' },
  { name: 'logLevel', type: 'enum', choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'], description: 'Log level' },
  { name: 'logFormat', type: 'enum', choices: ['auto', 'json', 'pretty'], description: 'Log format: JSON lines, or human-friendly ("auto": pretty in a terminal)' },
];

/** `grpcPort` → `--grpc-port`. */
export function flagName(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `grpcPort` → `RIVULET_GRPC_PORT`. */
export function envName(name: string): string {
  return `RIVULET_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

function invalid(message: string): RivuletError {
  return new RivuletError('INVALID_CONFIG', message);
}

/** Parses one value by its spec; `source` names where it came from for the error message. */
export function parseOptionValue(spec: OptionSpec, raw: unknown, source: string): NodeConfig[keyof NodeConfig] {
  const text = String(raw).trim();
  switch (spec.type) {
    case 'int': {
      const value = typeof raw === 'number' ? raw : Number(text);
      if (!Number.isSafeInteger(value)) throw invalid(`${spec.name} from ${source} must be an integer, got "${text}"`);
      return value;
    }
    case 'bool':
      if (raw === true || text === 'true' || text === '1') return true;
      if (raw === false || text === 'false' || text === '0') return false;
      throw invalid(`${spec.name} from ${source} must be true or false, got "${text}"`);
    case 'enum':
      if (!spec.choices?.includes(text)) throw invalid(`${spec.name} from ${source} must be one of ${spec.choices?.join(', ')}, got "${text}"`);
      return text as NodeConfig[keyof NodeConfig];
    case 'string':
      return text;
  }
}

/** Reads a config file: JSON (`{"grpcPort": 9093}`) or `key=value` lines with our names or Kafka's. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new RivuletError('INVALID_CONFIG', `cannot read config file ${path}`, {}, { cause });
  }
  if (text.trimStart().startsWith('{')) {
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (cause) {
      throw new RivuletError('INVALID_CONFIG', `config file ${path} is not valid JSON`, {}, { cause });
    }
  }
  const values: Record<string, unknown> = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) throw invalid(`config file ${path}: expected key=value, got "${trimmed}"`);
    values[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim();
  }
  return values;
}

function specForKey(key: string): OptionSpec | undefined {
  const camel = key.replace(/[-_](\w)/g, (_, c: string) => c.toUpperCase());
  return configOptions.find((o) => o.name === key || o.name === camel || o.kafkaName === key);
}

export interface ConfigSources {
  /** Values from command-line flags, keyed by option name; undefined entries are ignored. */
  flags?: Partial<Record<keyof NodeConfig, unknown>>;
  env?: Record<string, string | undefined>;
  configFile?: string;
}

/** Builds the effective config from defaults, file, environment and flags, and validates it. */
export function loadConfig(sources: ConfigSources = {}): NodeConfig {
  const config: NodeConfig = { ...defaultConfig };
  const set = (spec: OptionSpec, raw: unknown, source: string): void => {
    (config as unknown as Record<string, unknown>)[spec.name] = parseOptionValue(spec, raw, source);
  };
  if (sources.configFile) {
    for (const [key, raw] of Object.entries(readConfigFile(sources.configFile))) {
      const spec = specForKey(key);
      if (!spec) throw invalid(`config file ${sources.configFile}: unknown setting "${key}"`);
      set(spec, raw, `config file ${sources.configFile}`);
    }
  }
  for (const spec of configOptions) {
    const raw = sources.env?.[envName(spec.name)];
    if (raw !== undefined && raw !== '') set(spec, raw, `environment ${envName(spec.name)}`);
  }
  for (const spec of configOptions) {
    const raw = sources.flags?.[spec.name];
    if (raw !== undefined) set(spec, raw, `flag ${flagName(spec.name)}`);
  }
  validateConfig(config);
  return config;
}

export function validateConfig(config: NodeConfig): void {
  const port = (name: keyof NodeConfig, allowDisabled: boolean): void => {
    const value = config[name] as number;
    if (value < (allowDisabled ? -1 : 0) || value > 65535) throw invalid(`${name} must be a port number, got ${value}`);
  };
  port('grpcPort', false);
  port('kafkaPort', true);
  port('httpPort', true);
  port('advertisedGrpcPort', false);
  port('advertisedKafkaPort', false);
  if (config.nodeId < 0) throw invalid(`nodeId must be >= 0, got ${config.nodeId}`);
  if (config.dataDir === '') throw invalid('dataDir must not be empty');
  if (config.defaultPartitions < 1) throw invalid('defaultPartitions must be >= 1');
  if (config.defaultReplicationFactor < 1) throw invalid('defaultReplicationFactor must be >= 1');
  if (config.messageMaxBytes < 1024) throw invalid('messageMaxBytes must be >= 1024');
  if (config.fetchMaxBytes < config.messageMaxBytes) throw invalid('fetchMaxBytes must be >= messageMaxBytes');
  if (config.retentionCheckIntervalMs < 100) throw invalid('retentionCheckIntervalMs must be >= 100');
  if (config.logCleanerBackoffMs < 100) throw invalid('logCleanerBackoffMs must be >= 100');
  if (config.producerIdExpirationMs < 1) throw invalid('producerIdExpirationMs must be >= 1');
  if (config.offsetsTopicPartitions < 1 || config.offsetsTopicPartitions > 10_000) throw invalid('offsetsTopicPartitions must be between 1 and 10000');
  if (config.offsetsTopicReplicationFactor < 1) throw invalid('offsetsTopicReplicationFactor must be >= 1');
  if (config.offsetsCommitTimeoutMs < 1) throw invalid('offsetsCommitTimeoutMs must be >= 1');
  if (config.offsetsRetentionMs < 1) throw invalid('offsetsRetentionMs must be >= 1');
  if (config.offsetsRetentionCheckIntervalMs < 100) throw invalid('offsetsRetentionCheckIntervalMs must be >= 100');
  if (config.offsetMetadataMaxBytes < 0) throw invalid('offsetMetadataMaxBytes must be >= 0');
  if (config.groupMinSessionTimeoutMs < 1) throw invalid('groupMinSessionTimeoutMs must be >= 1');
  if (config.groupMaxSessionTimeoutMs < config.groupMinSessionTimeoutMs) {
    throw invalid(`groupMaxSessionTimeoutMs (${config.groupMaxSessionTimeoutMs}) must be >= groupMinSessionTimeoutMs (${config.groupMinSessionTimeoutMs})`);
  }
  if (config.groupInitialRebalanceDelayMs < 0) throw invalid('groupInitialRebalanceDelayMs must be >= 0');
  if (config.groupMaxSize < 1) throw invalid('groupMaxSize must be >= 1');
  if (config.brokerHeartbeatIntervalMs < 10) throw invalid('brokerHeartbeatIntervalMs must be >= 10');
  if (config.brokerSessionTimeoutMs < 2 * config.brokerHeartbeatIntervalMs) {
    throw invalid(`brokerSessionTimeoutMs (${config.brokerSessionTimeoutMs}) must be at least twice brokerHeartbeatIntervalMs (${config.brokerHeartbeatIntervalMs})`);
  }
  if (config.leaderImbalanceCheckIntervalMs < 100) throw invalid('leaderImbalanceCheckIntervalMs must be >= 100');
  if (config.replicaLagTimeMaxMs < 100) throw invalid('replicaLagTimeMaxMs must be >= 100');
  if (config.logTailCacheBytes < 0) throw invalid('logTailCacheBytes must be >= 0');
  if (config.reassignmentThrottleBytesPerSec !== -1 && config.reassignmentThrottleBytesPerSec < 1024) {
    throw invalid('reassignmentThrottleBytesPerSec must be -1 (no limit) or at least 1024');
  }
  let quorum: RaftPeerConfig[];
  try {
    quorum = parsePeers(config.controllerQuorum);
  } catch (error) {
    throw invalid(`controllerQuorum: ${(error as Error).message}`);
  }
  if (quorum.length === 0 && config.roles !== 'combined') {
    throw invalid(`a ${config.roles} node needs controllerQuorum (id@host:port,…); only a combined node may run a quorum of itself`);
  }
  if (config.roles !== 'broker' && quorum.length > 0 && !quorum.some((m) => m.id === config.nodeId)) {
    throw invalid(`node ${config.nodeId} runs a controller but is not in controllerQuorum ${config.controllerQuorum}`);
  }
  if (config.roles === 'broker' && quorum.some((m) => m.id === config.nodeId)) {
    throw invalid(`node ${config.nodeId} is a broker only but is listed in controllerQuorum; node ids are shared by brokers and controllers`);
  }
}
