/**
 * Branded numeric ids: a `Term` cannot be passed where an `Offset` belongs. The brand is
 * erased at run time; values are plain numbers and must stay safe integers.
 */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Position of a record in a partition log. */
export type Offset = Brand<number, 'Offset'>;
/** Position of an entry in a Raft log. */
export type RaftIndex = Brand<number, 'RaftIndex'>;
/** A Raft term. */
export type Term = Brand<number, 'Term'>;
/** A partition's leader epoch, bumped on every leader change. */
export type LeaderEpoch = Brand<number, 'LeaderEpoch'>;
/** A broker or controller node id. */
export type NodeId = Brand<number, 'NodeId'>;

export const asOffset = (n: number): Offset => n as Offset;
export const asRaftIndex = (n: number): RaftIndex => n as RaftIndex;
export const asTerm = (n: number): Term => n as Term;
export const asLeaderEpoch = (n: number): LeaderEpoch => n as LeaderEpoch;
export const asNodeId = (n: number): NodeId => n as NodeId;

/** A topic and one of its partitions. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export function topicPartitionKey(tp: TopicPartition): string {
  return `${tp.topic}-${tp.partition}`;
}

const TOPIC_NAME_MAX_CHARS = 249;
const TOPIC_NAME_PATTERN = /^[a-zA-Z0-9._-]+$/;

/**
 * Kafka's topic-name rules: 1-249 characters of ASCII letters, digits, '.', '_' and '-',
 * and not "." or "..". Returns why a name is invalid, or undefined. The broker and the
 * controller's state machine both judge names by this one rule.
 */
export function topicNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'topic name is empty';
  if (name === '.' || name === '..') return `topic name cannot be "${name}"`;
  if (name.length > TOPIC_NAME_MAX_CHARS) return `topic name is ${name.length} characters long, the limit is ${TOPIC_NAME_MAX_CHARS}`;
  if (!TOPIC_NAME_PATTERN.test(name)) return `topic name "${name}" has characters other than ASCII letters, digits, '.', '_' and '-'`;
  return undefined;
}
