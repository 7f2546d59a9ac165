import { RivuletError, assert } from '@rivulet/common';
import { WireReader } from '../wire/wire-reader.js';
import { WireWriter } from '../wire/wire-writer.js';
import { inRange, type FieldSpec, type FieldType, type FieldValue, type MessageValue } from './field.js';

/*
 * The interpreter over the API table. `compileMessage` turns a message's field list into the
 * plan for one version (which fields exist, which may be null, which are tagged, whether the
 * version is flexible); `decodeMessage` and `encodeMessage` walk that plan. Plans are built
 * once per API and version when the table loads, so per-request work is a loop over an array.
 *
 * Non-flexible versions use int16-prefixed strings, int32-prefixed bytes and arrays (-1 =
 * null). Flexible versions (KIP-482) use unsigned-varint "length + 1" prefixes (0 = null) and
 * end every struct with a tagged-field section: uvarint count, then per field uvarint tag,
 * uvarint size and the value. Unknown tags are skipped, as the KIP requires.
 */
export interface CompiledField {
  readonly name: string;
  readonly type: FieldType;
  readonly isNullable: boolean;
  readonly tag: number | undefined;
  readonly defaultValue: () => FieldValue;
  readonly struct: CompiledStruct | undefined;
}

export interface CompiledStruct {
  readonly isFlexible: boolean;
  readonly fields: readonly CompiledField[];
  /** Tagged fields, sorted by tag, as they must be written. */
  readonly taggedFields: readonly CompiledField[];
  /** Fields absent from this version: decoding fills their defaults so handlers see one shape. */
  readonly absentFields: readonly CompiledField[];
}

const ZERO_UUID = Buffer.alloc(16);
const EMPTY_BYTES = Buffer.alloc(0);

export function compileMessage(specs: readonly FieldSpec[], version: number, isFlexible: boolean): CompiledStruct {
  const fields: CompiledField[] = [];
  const taggedFields: CompiledField[] = [];
  const absentFields: CompiledField[] = [];
  for (const spec of specs) {
    const compiled = compileField(spec, version, isFlexible);
    if (!inRange(spec.versions, version)) absentFields.push(compiled);
    else if (spec.tag !== undefined && isFlexible) taggedFields.push(compiled);
    else if (spec.tag === undefined) fields.push(compiled);
    else absentFields.push(compiled);
  }
  taggedFields.sort((a, b) => a.tag! - b.tag!);
  return { isFlexible, fields, taggedFields, absentFields };
}

function compileField(spec: FieldSpec, version: number, isFlexible: boolean): CompiledField {
  const struct = spec.fields ? compileMessage(spec.fields, version, isFlexible) : undefined;
  return {
    name: spec.name,
    type: spec.type,
    isNullable: inRange(spec.nullableVersions, version),
    tag: spec.tag,
    defaultValue: defaultFactory(spec, struct),
    struct,
  };
}

function defaultFactory(spec: FieldSpec, struct: CompiledStruct | undefined): () => FieldValue {
  if (spec.defaultValue !== undefined) {
    const value = spec.defaultValue;
    return () => value;
  }
  switch (spec.type) {
    case 'bool':
      return () => false;
    case 'string':
      return () => '';
    case 'bytes':
    case 'records':
      return () => EMPTY_BYTES;
    case 'uuid':
      return () => ZERO_UUID;
    case '[]int32':
    case '[]int64':
    case '[]string':
    case '[]struct':
      return () => [];
    case 'struct':
      return () => defaultsOf(struct!);
    default:
      return () => 0;
  }
}

function defaultsOf(struct: CompiledStruct): MessageValue {
  const value: Record<string, FieldValue> = {};
  for (const f of [...struct.fields, ...struct.taggedFields, ...struct.absentFields]) value[f.name] = f.defaultValue();
  return value;
}

// ---- decoding ---------------------------------------------------------------------------------

export function decodeMessage(struct: CompiledStruct, reader: WireReader): MessageValue {
  const value: Record<string, FieldValue> = {};
  for (const f of struct.fields) value[f.name] = readField(f, reader, struct.isFlexible);
  for (const f of struct.absentFields) value[f.name] = f.defaultValue();
  if (struct.isFlexible) readTaggedFields(struct, reader, value);
  return value;
}

function readTaggedFields(struct: CompiledStruct, reader: WireReader, value: Record<string, FieldValue>): void {
  for (const f of struct.taggedFields) value[f.name] = f.defaultValue();
  const count = reader.uvarint();
  reader.checkArrayCount(count);
  for (let i = 0; i < count; i++) {
    const tag = reader.uvarint();
    const sizeBytes = reader.uvarint();
    const known = struct.taggedFields.find((f) => f.tag === tag);
    if (!known) {
      reader.skip(sizeBytes);
      continue;
    }
    const start = reader.offset;
    value[known.name] = readField(known, reader, true);
    if (reader.offset - start !== sizeBytes) throw new RivuletError('INVALID_REQUEST', `tagged field ${tag} size mismatch`);
  }
}

function nullOrThrow(f: CompiledField): null {
  if (!f.isNullable) throw new RivuletError('INVALID_REQUEST', `field ${f.name} is null but not nullable in this version`);
  return null;
}

function readField(f: CompiledField, reader: WireReader, isFlexible: boolean): FieldValue {
  switch (f.type) {
    case 'int8':
      return reader.int8();
    case 'int16':
      return reader.int16();
    case 'uint16':
      return reader.uint16();
    case 'int32':
      return reader.int32();
    case 'int64':
      return reader.int64();
    case 'float64':
      return reader.float64();
    case 'bool':
      return reader.bool();
    case 'uuid':
      return reader.uuid();
    case 'string':
      return readString(f, reader, isFlexible);
    case 'bytes':
    case 'records': {
      const lengthBytes = isFlexible ? reader.compactLength() : reader.int32();
      return lengthBytes < 0 ? nullOrThrow(f) : reader.bytesOfLength(lengthBytes);
    }
    case 'struct':
      return decodeMessage(f.struct!, reader);
    default:
      return readArray(f, reader, isFlexible);
  }
}

function readString(f: CompiledField, reader: WireReader, isFlexible: boolean): string | null {
  const lengthBytes = isFlexible ? reader.compactLength() : reader.int16();
  return lengthBytes < 0 ? nullOrThrow(f) : reader.stringOfLength(lengthBytes);
}

function readArray(f: CompiledField, reader: WireReader, isFlexible: boolean): FieldValue {
  const count = isFlexible ? reader.compactLength() : reader.int32();
  if (count < 0) return nullOrThrow(f);
  reader.checkArrayCount(count);
  const items: FieldValue[] = [];
  for (let i = 0; i < count; i++) {
    if (f.type === '[]int32') items.push(reader.int32());
    else if (f.type === '[]int64') items.push(reader.int64());
    else if (f.type === '[]string') items.push(readString({ ...f, isNullable: false }, reader, isFlexible));
    else items.push(decodeMessage(f.struct!, reader));
  }
  return items;
}

// ---- encoding ---------------------------------------------------------------------------------

export function encodeMessage(struct: CompiledStruct, value: MessageValue, writer: WireWriter): void {
  for (const f of struct.fields) writeField(f, valueOf(f, value), writer, struct.isFlexible);
  if (struct.isFlexible) writeTaggedFields(struct, value, writer);
}

function valueOf(f: CompiledField, value: MessageValue): FieldValue {
  const v = value[f.name];
  return v === undefined ? f.defaultValue() : v;
}

function writeTaggedFields(struct: CompiledStruct, value: MessageValue, writer: WireWriter): void {
  const present = struct.taggedFields.filter((f) => value[f.name] !== undefined && !isDefault(f, value[f.name]!));
  writer.uvarint(present.length);
  for (const f of present) {
    const inner = new WireWriter();
    writeField(f, value[f.name]!, inner, true);
    writer.uvarint(f.tag!);
    writer.uvarint(inner.sizeBytes);
    for (const chunk of inner.finish()) writer.raw(chunk);
  }
}

function isDefault(f: CompiledField, v: FieldValue): boolean {
  const d = f.defaultValue();
  if (typeof d !== 'object' || d === null) return v === d;
  return JSON.stringify(v) === JSON.stringify(d);
}

function writeField(f: CompiledField, v: FieldValue, writer: WireWriter, isFlexible: boolean): void {
  assert(v !== null || f.isNullable, `field ${f.name} is null but not nullable`);
  switch (f.type) {
    case 'int8':
      return writer.int8(v as number);
    case 'int16':
      return writer.int16(v as number);
    case 'uint16':
      return writer.uint16(v as number);
    case 'int32':
      return writer.int32(v as number);
    case 'int64':
      return writer.int64(v as number);
    case 'float64':
      return writer.float64(v as number);
    case 'bool':
      return writer.bool(v as boolean);
    case 'uuid':
      return writer.raw(v as Buffer);
    case 'string':
      return writeString(v as string | null, writer, isFlexible);
    case 'bytes':
    case 'records':
      return writeBytes(v as Buffer | null, writer, isFlexible);
    case 'struct':
      return encodeMessage(f.struct!, v as MessageValue, writer);
    default:
      return writeArray(f, v as readonly FieldValue[] | null, writer, isFlexible);
  }
}

function writeLength(lengthOrNull: number, writer: WireWriter, isFlexible: boolean, width: 16 | 32): void {
  if (isFlexible) writer.uvarint(lengthOrNull + 1);
  else if (width === 16) writer.int16(lengthOrNull);
  else writer.int32(lengthOrNull);
}

function writeString(v: string | null, writer: WireWriter, isFlexible: boolean): void {
  if (v === null) return writeLength(-1, writer, isFlexible, 16);
  const byteLength = Buffer.byteLength(v, 'utf8');
  assert(byteLength <= 0x7fff, 'string field longer than 32767 bytes');
  writeLength(byteLength, writer, isFlexible, 16);
  writer.utf8(v, byteLength);
}

function writeBytes(v: Buffer | null, writer: WireWriter, isFlexible: boolean): void {
  if (v === null) return writeLength(-1, writer, isFlexible, 32);
  writeLength(v.length, writer, isFlexible, 32);
  writer.raw(v);
}

function writeArray(f: CompiledField, v: readonly FieldValue[] | null, writer: WireWriter, isFlexible: boolean): void {
  if (v === null) return writeLength(-1, writer, isFlexible, 32);
  writeLength(v.length, writer, isFlexible, 32);
  for (const item of v) {
    if (f.type === '[]int32') writer.int32(item as number);
    else if (f.type === '[]int64') writer.int64(item as number);
    else if (f.type === '[]string') writeString(item as string, writer, isFlexible);
    else encodeMessage(f.struct!, item as MessageValue, writer);
  }
}
