/*
 * The vocabulary of the API table: one field of a request or response, the versions it exists
 * in, the versions in which it may be null, and (for KIP-482 tagged fields) its tag. Version
 * ranges are written as Kafka's message definitions write them: "3+", "0-5", "none".
 */
export type ScalarType = 'int8' | 'int16' | 'uint16' | 'int32' | 'int64' | 'float64' | 'bool' | 'string' | 'bytes' | 'records' | 'uuid';
export type FieldType = ScalarType | '[]int32' | '[]int64' | '[]string' | 'struct' | '[]struct';

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly versions: VersionRange;
  readonly nullableVersions: VersionRange;
  /** Present for tagged fields: written only when different from the default. */
  readonly tag?: number;
  readonly defaultValue?: FieldValue;
  readonly fields?: readonly FieldSpec[];
}

export type FieldValue = number | boolean | string | Buffer | null | readonly FieldValue[] | MessageValue;
export interface MessageValue {
  readonly [name: string]: FieldValue;
}

export const NO_VERSIONS: VersionRange = { min: 1, max: 0 };

export function parseVersions(text: string): VersionRange {
  if (text === 'none') return NO_VERSIONS;
  const open = /^(\d+)\+$/.exec(text);
  if (open) return { min: Number(open[1]), max: Number.POSITIVE_INFINITY };
  const closed = /^(\d+)-(\d+)$/.exec(text);
  if (closed) return { min: Number(closed[1]), max: Number(closed[2]) };
  const single = /^(\d+)$/.exec(text);
  if (single) return { min: Number(single[1]), max: Number(single[1]) };
  throw new Error(`bad version range ${text}`);
}

export function inRange(range: VersionRange, version: number): boolean {
  return version >= range.min && version <= range.max;
}

interface FieldOptions {
  nullable?: string;
  tag?: number;
  default?: FieldValue;
}

/** Declares a field: `field('LeaderEpoch', 'int32', '7+', { default: -1 })`. */
export function field(name: string, type: ScalarType | '[]int32' | '[]int64' | '[]string', versions = '0+', options: FieldOptions = {}): FieldSpec {
  return build(name, type, versions, options, undefined);
}

/** Declares a struct or array-of-struct field with its own fields. */
export function group(name: string, type: 'struct' | '[]struct', versions: string, fields: readonly FieldSpec[], options: FieldOptions = {}): FieldSpec {
  return build(name, type, versions, options, fields);
}

function build(name: string, type: FieldType, versions: string, options: FieldOptions, fields: readonly FieldSpec[] | undefined): FieldSpec {
  const spec: FieldSpec = {
    name: name.charAt(0).toLowerCase() + name.slice(1),
    type,
    versions: parseVersions(versions),
    nullableVersions: options.nullable === undefined ? NO_VERSIONS : parseVersions(options.nullable),
    ...(options.tag === undefined ? {} : { tag: options.tag }),
    ...(options.default === undefined ? {} : { defaultValue: options.default }),
    ...(fields === undefined ? {} : { fields }),
  };
  return spec;
}
