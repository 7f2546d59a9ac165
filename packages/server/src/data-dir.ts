import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { RivuletError, StorageError } from '@rivulet/common';

const FILE_NAME = 'node.json';

interface NodeIdentity {
  formatVersion: 1;
  clusterId: string;
  nodeId: number;
}

/**
 * Ties a data directory to one node of one cluster (as Kafka's meta.properties): the first
 * start writes `node.json`; later starts refuse a directory of another node or cluster, so
 * a misconfigured node cannot serve, or overwrite, another node's replicas and Raft log.
 */
export async function claimDataDir(dir: string, clusterId: string, nodeId: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, FILE_NAME);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StorageError(`cannot read ${path}`, {}, { cause: err });
  }
  if (text !== undefined) {
    let found: Partial<NodeIdentity>;
    try {
      found = JSON.parse(text) as Partial<NodeIdentity>;
    } catch (cause) {
      throw new StorageError(`${path} is not valid JSON`, {}, { cause });
    }
    if (found.clusterId !== clusterId) {
      throw new RivuletError('INCONSISTENT_CLUSTER_ID', `data directory ${dir} belongs to cluster "${String(found.clusterId)}", not "${clusterId}"`);
    }
    if (found.nodeId !== nodeId) {
      throw new RivuletError('INCONSISTENT_CLUSTER_ID', `data directory ${dir} belongs to node ${String(found.nodeId)}, not node ${nodeId}`);
    }
    return;
  }
  const identity: NodeIdentity = { formatVersion: 1, clusterId, nodeId };
  const temporary = `${path}.tmp`;
  try {
    const file = await open(temporary, 'w');
    try {
      await file.writeFile(`${JSON.stringify(identity, null, 2)}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new StorageError(`cannot write ${path}`, {}, { cause: err });
  }
}
