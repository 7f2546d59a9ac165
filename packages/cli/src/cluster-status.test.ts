import { summarizeQuorum, type ClusterDescription, type ClusterMetadata, type QuorumView } from '@rivulet/client';
import { describe, expect, it } from 'vitest';
import { formatClusterStatus, formatHeartbeatAge } from './commands/cluster.js';

const description: ClusterDescription = {
  clusterId: 'c-1',
  controllerId: 1,
  brokers: [
    { nodeId: 1, host: '127.0.0.1', grpcPort: 7001, kafkaPort: -1, rack: '' },
    { nodeId: 3, host: '127.0.0.1', grpcPort: 7003, kafkaPort: 9003, rack: 'r3' },
  ],
  node: { nodeId: 1, roles: 'broker', version: '0.1.0', uptimeMs: 65_000, dataDir: '/d/1', partitionCount: 2, leaderCount: 1, logSizeBytes: 2048 },
  controllers: [
    { nodeId: 1001, address: '127.0.0.1:6001' },
    { nodeId: 1002, address: '127.0.0.1:6002' },
    { nodeId: 1003, address: '127.0.0.1:6003' },
  ],
};

const metadata: ClusterMetadata = {
  clusterId: 'c-1',
  controllerId: 1,
  brokers: description.brokers,
  topics: [
    {
      name: 'orders',
      isInternal: false,
      partitions: [
        { partition: 0, leaderId: 1, leaderEpoch: 3, replicas: [1, 2, 3], isr: [1, 3], errorCode: 0 },
        { partition: 1, leaderId: 3, leaderEpoch: 2, replicas: [3, 1, 2], isr: [3, 1, 2], errorCode: 0 },
        { partition: 2, leaderId: -1, leaderEpoch: 4, replicas: [2], isr: [2], errorCode: 5 },
      ],
    },
  ],
};

function view(overrides: Partial<QuorumView>): QuorumView {
  return {
    nodeId: 1001,
    leaderId: 1002,
    term: 4,
    commitIndex: 120,
    appliedIndex: 120,
    role: 'follower',
    members: [],
    brokers: [],
    topicCount: 1,
    partitionCount: 3,
    offlinePartitionCount: 1,
    underReplicatedPartitionCount: 1,
    ...overrides,
  };
}

const leaderView = view({
  nodeId: 1002,
  role: 'leader',
  commitIndex: 125,
  appliedIndex: 124,
  brokers: [
    { brokerId: 1, brokerEpoch: 10, state: 'unfenced', rack: '', endpoints: [{ name: 'grpc', host: '127.0.0.1', port: 7001 }], lastHeartbeatAgeMs: 250 },
    { brokerId: 2, brokerEpoch: 11, state: 'fenced', rack: 'r2', endpoints: [{ name: 'grpc', host: '127.0.0.1', port: 7002 }], lastHeartbeatAgeMs: 12_345 },
    {
      brokerId: 3,
      brokerEpoch: 12,
      state: 'shuttingDown',
      rack: 'r3',
      endpoints: [
        { name: 'grpc', host: '127.0.0.1', port: 7003 },
        { name: 'kafka', host: '127.0.0.1', port: 9003 },
      ],
      lastHeartbeatAgeMs: -1,
    },
  ],
});

/** The rows of the section under `title`, up to the next blank line, split into columns. */
function section(text: string, title: string): string[][] {
  const lines = text.split('\n');
  const start = lines.indexOf(title);
  expect(start, `section ${title} in:\n${text}`).toBeGreaterThanOrEqual(0);
  const end = lines.indexOf('', start);
  return lines.slice(start + 1, end).map((l) => l.trim().split(/\s{2,}/));
}

describe('formatClusterStatus', () => {
  it('shows controllers with their lag, brokers from the active controller, and unhealthy partitions', () => {
    const quorum = summarizeQuorum([
      { nodeId: 1001, address: '127.0.0.1:6001', view: view({ appliedIndex: 118 }) },
      { nodeId: 1002, address: '127.0.0.1:6002', view: leaderView },
      { nodeId: 1003, address: '127.0.0.1:6003', error: 'NETWORK_EXCEPTION: broker unreachable: connection refused' },
    ]);
    const text = formatClusterStatus({ description, metadata, quorum });
    expect(text.startsWith('Cluster: c-1\nTopics: 1, partitions: 3\n')).toBe(true);

    expect(section(text, 'CONTROLLERS')).toEqual([
      ['ID', 'ADDRESS', 'ROLE', 'LEADER', 'TERM', 'COMMIT-INDEX', 'APPLIED-INDEX', 'LAG'],
      // The follower's lag is the leader's commit index (125) minus its applied index (118).
      ['1001', '127.0.0.1:6001', 'follower', '', '4', '120', '118', '7'].filter((c) => c !== ''),
      ['1002', '127.0.0.1:6002', 'leader', 'yes', '4', '125', '124', '1'],
      ['1003', '127.0.0.1:6003', '-', '', '-', '-', '-', 'unreachable'].filter((c) => c !== ''),
      ['controller 1003 unreachable: NETWORK_EXCEPTION: broker unreachable: connection refused'],
      ['Active controller: 1002 (term 4); 2 of 3 controllers answered'],
    ]);

    expect(section(text, 'BROKERS')).toEqual([
      ['ID', 'STATE', 'EPOCH', 'HOST', 'GRPC', 'KAFKA', 'RACK', 'LAST-HEARTBEAT'],
      ['1', 'unfenced', '10', '127.0.0.1', '7001', '-', '-', '250ms ago'],
      ['2', 'fenced', '11', '127.0.0.1', '7002', '-', 'r2', '12.3s ago'],
      ['3', 'shuttingDown', '12', '127.0.0.1', '7003', '9003', 'r3', '-'],
      ['Registered: 3 (1 unfenced); the active controller counts 1 offline and 1 under-replicated partitions'],
    ]);

    expect(section(text, 'PARTITIONS WITHOUT A LEADER OR WITH A SHRUNKEN ISR')).toEqual([
      ['TOPIC', 'PARTITION', 'LEADER', 'REPLICAS', 'ISR'],
      ['orders', '0', '1', '1,2,3', '1,3'],
      ['orders', '2', 'none', '2', '2'],
    ]);
    expect(text).toContain('Node 1 (answering): version 0.1.0, roles broker, up 1m5s, 2 partitions (1 led)');
  });

  it('says when every partition is healthy, and falls back to the live brokers without an active controller', () => {
    const healthy: ClusterMetadata = { ...metadata, topics: [{ name: 'a', isInternal: false, partitions: [{ partition: 0, leaderId: 1, leaderEpoch: 0, replicas: [1, 3], isr: [3, 1], errorCode: 0 }] }] };
    const quorum = summarizeQuorum([{ nodeId: 1001, address: '127.0.0.1:6001', view: view({ role: 'candidate', leaderId: -1 }) }]);
    const text = formatClusterStatus({ description, metadata: healthy, quorum });
    expect(section(text, 'CONTROLLERS')).toEqual([
      ['ID', 'ADDRESS', 'ROLE', 'LEADER', 'TERM', 'COMMIT-INDEX', 'APPLIED-INDEX', 'LAG'],
      ['1001', '127.0.0.1:6001', 'candidate', '4', '120', '120', '-'],
      ['No active controller answered; 1 of 1 controllers answered'],
    ]);
    expect(section(text, 'BROKERS')).toEqual([
      ['(no active controller answered: live brokers as the answering broker sees them)'],
      ['ID', 'HOST', 'GRPC', 'KAFKA', 'RACK'],
      ['1', '127.0.0.1', '7001', '-', '-'],
      ['3', '127.0.0.1', '7003', '9003', 'r3'],
    ]);
    expect(section(text, 'PARTITIONS WITHOUT A LEADER OR WITH A SHRUNKEN ISR')).toEqual([['none: all 1 partitions have a leader and every replica in sync']]);
  });

  it('says so when the broker does not name its controllers', () => {
    const text = formatClusterStatus({ description: { ...description, controllers: [] }, metadata, quorum: undefined });
    expect(section(text, 'CONTROLLERS')).toEqual([['(the answering broker does not name the controller quorum)']]);
    const empty = formatClusterStatus({ description: { ...description, controllers: [] }, metadata: { ...metadata, topics: [] }, quorum: undefined });
    expect(section(empty, 'PARTITIONS WITHOUT A LEADER OR WITH A SHRUNKEN ISR')).toEqual([['none: there are no partitions']]);
  });
});

describe('formatHeartbeatAge', () => {
  it('prints milliseconds, seconds and minutes, and - when unknown', () => {
    expect([formatHeartbeatAge(-1), formatHeartbeatAge(40), formatHeartbeatAge(1500), formatHeartbeatAge(125_000)]).toEqual(['-', '40ms ago', '1.5s ago', '2m5s ago']);
  });
});
