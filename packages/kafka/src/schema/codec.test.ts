import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRequestFrame } from '../protocol/request-codec.js';
import { WireReader } from '../wire/wire-reader.js';
import { WireWriter } from '../wire/wire-writer.js';
import { allCompiledApis, requestHeaderVersion } from './api-registry.js';
import { decodeMessage, encodeMessage, type CompiledField, type CompiledStruct } from './codec.js';
import type { FieldValue, MessageValue } from './field.js';

/** Random values for every field a version has, defaults for the fields it lacks. */
function structArbitrary(struct: CompiledStruct): fc.Arbitrary<MessageValue> {
  const present: Record<string, fc.Arbitrary<FieldValue>> = {};
  for (const f of [...struct.fields, ...struct.taggedFields]) present[f.name] = fieldArbitrary(f);
  return fc.record(present).map((value) => {
    const full: Record<string, FieldValue> = { ...value };
    for (const f of struct.absentFields) full[f.name] = f.defaultValue();
    return full;
  });
}

function nullable(f: CompiledField, arbitrary: fc.Arbitrary<FieldValue>): fc.Arbitrary<FieldValue> {
  return f.isNullable ? fc.option(arbitrary, { nil: null }) : arbitrary;
}

function fieldArbitrary(f: CompiledField): fc.Arbitrary<FieldValue> {
  const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
  switch (f.type) {
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'int64':
      return fc.maxSafeInteger();
    case 'float64':
      return fc.double({ noNaN: true });
    case 'bool':
      return fc.boolean();
    case 'uuid':
      return fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a));
    case 'string':
      return nullable(f, fc.string({ maxLength: 20 }));
    case 'bytes':
    case 'records':
      return nullable(f, bytes);
    case '[]int32':
      return nullable(f, fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 4 }));
    case '[]int64':
      return nullable(f, fc.array(fc.maxSafeInteger(), { maxLength: 4 }));
    case '[]string':
      return nullable(f, fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }));
    case 'struct':
      return structArbitrary(f.struct!);
    case '[]struct':
      return nullable(f, fc.array(structArbitrary(f.struct!), { maxLength: 3 }));
  }
}

function roundTrip(struct: CompiledStruct, value: MessageValue): MessageValue {
  const writer = new WireWriter();
  encodeMessage(struct, value, writer);
  const bytes = Buffer.concat(writer.finish());
  const reader = new WireReader(bytes);
  const decoded = decodeMessage(struct, reader);
  expect(reader.remainingBytes()).toBe(0);
  return decoded;
}

describe('every API and version in the table round-trips encode -> decode', () => {
  for (const api of allCompiledApis()) {
    for (let version = api.minVersion; version <= api.maxVersion; version++) {
      it(`${api.spec.name} v${version} request and response`, () => {
        for (const struct of [api.requests[version]!, api.responses[version]!]) {
          fc.assert(
            fc.property(structArbitrary(struct), (value) => {
              expect(roundTrip(struct, value)).toEqual(value);
            }),
            { numRuns: 25 },
          );
        }
      });
    }
  }
});

describe('flexible encodings', () => {
  it('writes a non-default tagged field and skips unknown tags when decoding', () => {
    const api = allCompiledApis().find((a) => a.spec.name === 'Fetch')!;
    const struct = api.responses[12]!;
    const partitionStruct = struct.fields.find((f) => f.name === 'responses')!.struct!.fields.find((f) => f.name === 'partitions')!.struct!;
    const partition = { ...roundTrip(partitionStruct, {}), currentLeader: { leaderId: 7, leaderEpoch: 3 } };
    expect(roundTrip(partitionStruct, partition)).toEqual(partition);
    const writer = new WireWriter();
    encodeMessage(partitionStruct, partition, writer);
    const bytes = Buffer.concat(writer.finish());
    // The tagged section ends the struct: count 1, tag 1, size 9, then the LeaderIdAndEpoch
    // struct (two int32s and its own empty tagged section).
    expect([...bytes.subarray(bytes.length - 12, bytes.length - 9)]).toEqual([1, 1, 9]);
    bytes[bytes.length - 11] = 9; // An unknown tag must be skipped, leaving the default.
    expect(decodeMessage(partitionStruct, new WireReader(bytes)).currentLeader).toEqual({ leaderId: -1, leaderEpoch: -1 });
  });

  it('refuses an array count larger than the bytes left without allocating', () => {
    const api = allCompiledApis().find((a) => a.spec.name === 'Metadata')!;
    const body = Buffer.from([0x7f, 0xff, 0xff, 0xff, 1]);
    expect(() => decodeMessage(api.requests[4]!, new WireReader(body))).toThrow(/cannot fit/);
  });
});

const fixturesDir = join(import.meta.dirname, '..', '..', 'fixtures');

describe('golden request frames captured from real clients', () => {
  const files = readdirSync(fixturesDir).filter((f) => f.endsWith('.bin'));
  it('has frames from kcat, KafkaJS and @platformatic/kafka', () => {
    for (const client of ['kcat', 'kafkajs', 'platformatic']) expect(files.some((f) => f.startsWith(client))).toBe(true);
  });
  for (const file of files) {
    it(`${file} decodes, and re-encodes to the same body bytes`, () => {
      const frame = readFileSync(join(fixturesDir, file));
      expect(frame.readInt32BE(0)).toBe(frame.length - 4);
      const request = decodeRequestFrame(frame.subarray(4));
      expect(request.disposition).toBe('serve');
      const headerReader = new WireReader(frame, 12);
      const clientIdLength = headerReader.int16();
      headerReader.skip(Math.max(0, clientIdLength));
      if (requestHeaderVersion(request.api, request.header.apiVersion) === 2) expect(headerReader.uvarint()).toBe(0);
      const writer = new WireWriter();
      encodeMessage(request.api.requests[request.header.apiVersion]!, request.body, writer);
      expect(Buffer.concat(writer.finish()).equals(frame.subarray(headerReader.offset))).toBe(true);
    });
  }

  it('platformatic IncrementalAlterConfigs v1 (flexible) and KafkaJS CreatePartitions v1 carry what the clients were asked', () => {
    const incremental = decodeRequestFrame(readFileSync(join(fixturesDir, 'platformatic-api44-v1.bin')).subarray(4));
    const resource = (incremental.body.resources as MessageValue[])[0]!;
    expect(resource).toMatchObject({ resourceType: 2, resourceName: 'golden-flex' });
    expect((resource.configs as MessageValue[])[0]).toMatchObject({ name: 'max.message.bytes', configOperation: 0, value: '65536' });
    const grow = decodeRequestFrame(readFileSync(join(fixturesDir, 'kafkajs-api37-v1.bin')).subarray(4));
    expect((grow.body.topics as MessageValue[])[0]).toMatchObject({ name: 'golden', count: 3, assignments: null });
  });

  it('InitProducerId from KafkaJS (v1), kcat (v4) and @platformatic/kafka (v5) asks for no transactional id', () => {
    const decoded = (file: string) => decodeRequestFrame(readFileSync(join(fixturesDir, file)).subarray(4)).body;
    expect(decoded('kafkajs-api22-v1.bin')).toMatchObject({ transactionalId: null, producerId: -1, producerEpoch: -1 });
    expect(decoded('kcat-api22-v4.bin')).toMatchObject({ transactionalId: null, producerId: -1, producerEpoch: -1 });
    // @platformatic/kafka names id 0, epoch 0 when it has none: why producer ids start at 1.
    expect(decoded('platformatic-api22-v5.bin')).toMatchObject({ transactionalId: null, producerId: 0, producerEpoch: 0 });
  });

  it('kcat produce v7 carries a RecordBatch v2 for topic golden', () => {
    const request = decodeRequestFrame(readFileSync(join(fixturesDir, 'kcat-api0-v7.bin')).subarray(4));
    const topicData = request.body.topicData as MessageValue[];
    expect(topicData[0]!.name).toBe('golden');
    const records = ((topicData[0]!.partitionData as MessageValue[])[0]!.records as Buffer);
    expect(records.readInt8(16)).toBe(2);
  });
});
