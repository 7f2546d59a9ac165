import { RivuletError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord } from './records.js';
import type { MetadataRecord } from './records.js';

const samples: MetadataRecord[] = [
  { type: 'RegisterBroker', brokerId: 1, incarnationId: 'a', brokerEpoch: 7, endpoints: [{ name: 'PLAINTEXT', host: 'h', port: 9092 }], rack: 'r1' },
  { type: 'RegisterBroker', brokerId: 2, incarnationId: 'b', brokerEpoch: 8, endpoints: [], rack: null },
  { type: 'UnregisterBroker', brokerId: 1, brokerEpoch: 7 },
  { type: 'FenceBroker', brokerId: 1, brokerEpoch: 7 },
  { type: 'UnfenceBroker', brokerId: 1, brokerEpoch: 7 },
  { type: 'BrokerShuttingDown', brokerId: 1, brokerEpoch: 7 },
  { type: 'Topic', name: 't', topicId: 'id-1' },
  { type: 'Partition', topicId: 'id-1', partition: 0, replicas: [1, 2], isr: [1], leader: 1, leaderEpoch: 0, partitionEpoch: 0 },
  { type: 'PartitionChange', topicId: 'id-1', partition: 0, isr: [1, 2] },
  { type: 'PartitionChange', topicId: 'id-1', partition: 0, leader: -1, replicas: [1, 2, 3] },
  { type: 'TopicConfig', topic: 't', key: 'retention.ms', value: '1000' },
  { type: 'TopicConfig', topic: 't', key: 'retention.ms', value: null },
  { type: 'RemoveTopic', topicId: 'id-1' },
];

const bytes = (s: string) => new TextEncoder().encode(s);

describe('record codec', () => {
  it.each(samples)('round-trips $type', (record) => {
    expect(decodeRecord(encodeRecord(record))).toEqual(record);
  });

  it.each([
    ['not JSON', '{'],
    ['not an object', '[1]'],
    ['no version', '{"type":"Topic","name":"t","topicId":"x"}'],
    ['future version', '{"v":2,"type":"Topic","name":"t","topicId":"x"}'],
    ['unknown type', '{"v":1,"type":"Nope"}'],
    ['missing field', '{"v":1,"type":"Topic","name":"t"}'],
    ['wrong field type', '{"v":1,"type":"FenceBroker","brokerId":"1","brokerEpoch":1}'],
    ['negative id', '{"v":1,"type":"FenceBroker","brokerId":-2,"brokerEpoch":1}'],
    ['bad replicas', '{"v":1,"type":"Partition","topicId":"x","partition":0,"replicas":[1.5],"isr":[],"leader":1,"leaderEpoch":0,"partitionEpoch":0}'],
    ['bad port', '{"v":1,"type":"RegisterBroker","brokerId":1,"incarnationId":"a","brokerEpoch":1,"endpoints":[{"name":"a","host":"h","port":70000}],"rack":null}'],
  ])('refuses %s with INVALID_RECORD', (_what, text) => {
    let caught: unknown;
    try {
      decodeRecord(bytes(text));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(RivuletError);
    expect((caught as RivuletError).errorName).toBe('INVALID_RECORD');
  });

  it('refuses invalid UTF-8', () => {
    expect(() => decodeRecord(new Uint8Array([0xff, 0xfe]))).toThrow(RivuletError);
  });
});
