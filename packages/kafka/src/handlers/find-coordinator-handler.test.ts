import { ErrorCode, RivuletError } from '@rivulet/common';
import type { BrokerEndpoint } from '@rivulet/broker';
import { describe, expect, it } from 'vitest';
import { ApiKey } from '../schema/api-table.js';
import { FakeGroups, SELF_NODE_ID, callApi, fakeContext, type FakeBrokerOptions } from '../testing/group-harness.js';

const brokers: BrokerEndpoint[] = [
  { nodeId: SELF_NODE_ID, host: '10.0.0.1', grpcPort: 7001, kafkaPort: 9092, rack: '' },
  { nodeId: 2, host: '10.0.0.2', grpcPort: 7001, kafkaPort: 9093, rack: '' },
  { nodeId: 3, host: '10.0.0.3', grpcPort: 7001, kafkaPort: -1, rack: '' },
];

/** Group "g-N" is coordinated by node N; "loading" has no coordinator yet. */
function coordinators(): FakeBrokerOptions {
  return {
    brokers,
    findGroupCoordinator: (groupId) => {
      if (groupId === 'loading') return Promise.reject(new RivuletError('COORDINATOR_NOT_AVAILABLE', '__consumer_offsets is being created'));
      return Promise.resolve(Number(groupId.slice(2)));
    },
  };
}

const context = () => fakeContext(new FakeGroups({}), coordinators());

describe('FindCoordinator', () => {
  it('v0 (a group key): the coordinator at its Kafka listener; this node at its advertised address', async () => {
    expect(await callApi(ApiKey.FindCoordinator, 0, { key: 'g-2' }, context())).toMatchObject({ errorCode: 0, nodeId: 2, host: '10.0.0.2', port: 9093 });
    expect(await callApi(ApiKey.FindCoordinator, 0, { key: 'g-1' }, context())).toMatchObject({ errorCode: 0, nodeId: SELF_NODE_ID, host: 'self.example', port: 9092 });
  });

  it('v2 (KafkaJS, librdkafka): retriable COORDINATOR_NOT_AVAILABLE while there is none, or when it has no Kafka listener', async () => {
    const loading = await callApi(ApiKey.FindCoordinator, 2, { key: 'loading', keyType: 0 }, context());
    expect(loading).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: '__consumer_offsets is being created', nodeId: -1, host: '', port: -1, coordinators: [] });
    const unreachable = await callApi(ApiKey.FindCoordinator, 2, { key: 'g-3', keyType: 0 }, context());
    expect(unreachable).toMatchObject({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, nodeId: -1, host: '', port: -1 });
    expect(unreachable.errorMessage).toMatch(/no Kafka listener/);
    const gone = await callApi(ApiKey.FindCoordinator, 2, { key: 'g-7', keyType: 0 }, context());
    expect(gone.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });

  it('v1-3: a transactional key is COORDINATOR_NOT_AVAILABLE saying transactions are not supported; an unknown key type INVALID_REQUEST', async () => {
    const groups = new FakeGroups({});
    let asked = 0;
    const counting = fakeContext(groups, { ...coordinators(), findGroupCoordinator: () => Promise.resolve(++asked) });
    const transaction = await callApi(ApiKey.FindCoordinator, 3, { key: 'tx-1', keyType: 1 }, counting);
    expect(transaction).toMatchObject({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, nodeId: -1 });
    expect(transaction.errorMessage).toMatch(/transactions are not supported/);
    expect((await callApi(ApiKey.FindCoordinator, 1, { key: 'x', keyType: 2 }, counting)).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(asked).toBe(0);
  });

  it('v4 (@platformatic/kafka): each key answered on its own', async () => {
    const response = await callApi(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['g-1', 'loading', 'g-2'] }, context());
    expect(response).toMatchObject({
      throttleTimeMs: 0,
      coordinators: [
        { key: 'g-1', nodeId: SELF_NODE_ID, host: 'self.example', port: 9092, errorCode: 0, errorMessage: null },
        { key: 'loading', nodeId: -1, host: '', port: -1, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: '__consumer_offsets is being created' },
        { key: 'g-2', nodeId: 2, host: '10.0.0.2', port: 9093, errorCode: 0, errorMessage: null },
      ],
    });
    const transactional = await callApi(ApiKey.FindCoordinator, 4, { keyType: 1, coordinatorKeys: ['tx-1', 'tx-2'] }, context());
    expect((transactional.coordinators as { errorCode: number }[]).map((c) => c.errorCode)).toEqual([ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_NOT_AVAILABLE]);
  });

  it('answers the broker stub (no coordinator yet) with COORDINATOR_NOT_AVAILABLE', async () => {
    const stub = fakeContext(new FakeGroups({}), { brokers, findGroupCoordinator: () => Promise.reject(new RivuletError('COORDINATOR_NOT_AVAILABLE')) });
    expect((await callApi(ApiKey.FindCoordinator, 0, { key: 'g' }, stub)).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });
});
