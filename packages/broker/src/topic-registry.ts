import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { RivuletError, StorageError, assert } from '@rivulet/common';

/** A topic as the cluster knows it. Partition placement joins this with the controller later. */
export interface TopicRecord {
  name: string;
  /** Distinguishes a topic from an earlier one of the same name. */
  topicId: string;
  partitionCount: number;
  replicationFactor: number;
  /** Explicit configs only, under Kafka's names. */
  configs: Record<string, string>;
  createdAtMs: number;
}

/**
 * Where topic metadata lives. In a single-node deployment it is this file-backed registry;
 * in a cluster it is the controller quorum's committed metadata log, behind the same calls.
 */
export interface TopicRegistry {
  list(): TopicRecord[];
  get(name: string): TopicRecord | undefined;
  create(spec: Omit<TopicRecord, 'topicId' | 'createdAtMs'>, nowMs: number): Promise<TopicRecord>;
  delete(name: string): Promise<TopicRecord>;
  updatePartitionCount(name: string, partitionCount: number): Promise<TopicRecord>;
}

interface RegistryFile {
  formatVersion: 1;
  clusterId: string;
  nodeId: number;
  topics: TopicRecord[];
}

const FILE_NAME = 'cluster-metadata.json';

/**
 * Topic metadata of a single node, kept in one JSON file in the data directory and replaced
 * atomically (write a temporary file, fsync, rename, fsync the directory), so a crash leaves
 * either the old or the new version. Writes are serialized; each is small.
 */
export class FileTopicRegistry implements TopicRegistry {
  private readonly topics = new Map<string, TopicRecord>();
  private writeChain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly clusterId: string,
    private readonly nodeId: number,
  ) {}

  /** Opens the registry, refusing a data directory that belongs to another node or cluster. */
  static async open(dir: string, clusterId: string, nodeId: number): Promise<FileTopicRegistry> {
    await mkdir(dir, { recursive: true });
    const registry = new FileTopicRegistry(dir, clusterId, nodeId);
    let text: string | undefined;
    try {
      text = await readFile(join(dir, FILE_NAME), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StorageError(`cannot read ${FILE_NAME}`, {}, { cause: err });
    }
    if (text === undefined) {
      await registry.persist();
      return registry;
    }
    const file = JSON.parse(text) as RegistryFile;
    if (file.clusterId !== clusterId) {
      throw new RivuletError('INCONSISTENT_CLUSTER_ID', `data directory ${dir} belongs to cluster "${file.clusterId}", not "${clusterId}"`);
    }
    if (file.nodeId !== nodeId) {
      throw new RivuletError('INCONSISTENT_CLUSTER_ID', `data directory ${dir} belongs to node ${file.nodeId}, not node ${nodeId}`);
    }
    for (const topic of file.topics) registry.topics.set(topic.name, topic);
    return registry;
  }

  list(): TopicRecord[] {
    return [...this.topics.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): TopicRecord | undefined {
    return this.topics.get(name);
  }

  async create(spec: Omit<TopicRecord, 'topicId' | 'createdAtMs'>, nowMs: number): Promise<TopicRecord> {
    if (this.topics.has(spec.name)) throw new RivuletError('TOPIC_ALREADY_EXISTS', `topic ${spec.name} already exists`, { topic: spec.name });
    const record: TopicRecord = { ...spec, configs: { ...spec.configs }, topicId: randomUUID(), createdAtMs: nowMs };
    this.topics.set(record.name, record);
    await this.persist();
    return record;
  }

  async delete(name: string): Promise<TopicRecord> {
    const record = this.topics.get(name);
    if (!record) throw new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`, { topic: name });
    this.topics.delete(name);
    await this.persist();
    return record;
  }

  async updatePartitionCount(name: string, partitionCount: number): Promise<TopicRecord> {
    const record = this.topics.get(name);
    if (!record) throw new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`, { topic: name });
    assert(partitionCount > record.partitionCount, 'partition count only grows');
    const updated = { ...record, partitionCount };
    this.topics.set(name, updated);
    await this.persist();
    return updated;
  }

  private persist(): Promise<void> {
    const snapshot: RegistryFile = { formatVersion: 1, clusterId: this.clusterId, nodeId: this.nodeId, topics: this.list() };
    const write = this.writeChain.then(() => this.writeAtomically(JSON.stringify(snapshot, null, 2)));
    // The chain continues after a failure so later writes still happen; the failure is reported to this caller.
    this.writeChain = write.catch(() => undefined);
    return write;
  }

  private async writeAtomically(text: string): Promise<void> {
    const target = join(this.dir, FILE_NAME);
    const temporary = `${target}.tmp`;
    try {
      const file = await open(temporary, 'w');
      try {
        await file.writeFile(text);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, target);
      const dir = await open(this.dir, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (err) {
      throw new StorageError(`cannot write ${FILE_NAME}`, {}, { cause: err });
    }
  }
}
