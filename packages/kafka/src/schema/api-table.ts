import { field, group, parseVersions, type FieldSpec, type VersionRange } from './field.js';

/*
 * THE table: every Kafka API this front-end speaks, with each request's and response's fields
 * per version, written from Kafka's protocol documentation and message definitions. Codecs for
 * every (API, version) are compiled from these lists (see codec.ts); nothing else describes a
 * wire format. Field names are Kafka's, camel-cased.
 *
 * `versions` is the range we decode and encode. `servedVersions` is the part we answer with
 * data; a version below it is still decoded so that it can be answered with UNSUPPORTED_VERSION:
 * Produce 0-2 and Fetch 0-3, which carry the old message formats, as Kafka 4.0 does; OffsetCommit
 * 0 and OffsetFetch 0, which kept offsets in ZooKeeper, as Kafka without ZooKeeper does. Clients
 * pick the newest version both sides know, so the newest decoded version is always served.
 */
export interface ApiSpec {
  readonly apiKey: number;
  readonly name: string;
  readonly versions: VersionRange;
  readonly servedVersions: VersionRange;
  readonly flexibleVersions: VersionRange;
  readonly request: readonly FieldSpec[];
  readonly response: readonly FieldSpec[];
}

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  DeleteRecords: 21,
  InitProducerId: 22,
  OffsetForLeaderEpoch: 23,
  DescribeConfigs: 32,
  AlterConfigs: 33,
  CreatePartitions: 37,
  DeleteGroups: 42,
  IncrementalAlterConfigs: 44,
  AlterPartitionReassignments: 45,
  ListPartitionReassignments: 46,
  DescribeCluster: 60,
} as const;

/** Kafka's "not requested" value for authorized-operations fields. */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

function api(apiKey: number, name: string, versions: string, served: string, flexible: string, request: FieldSpec[], response: FieldSpec[]): ApiSpec {
  return { apiKey, name, versions: parseVersions(versions), servedVersions: parseVersions(served), flexibleVersions: parseVersions(flexible), request, response };
}

const produce = api(ApiKey.Produce, 'Produce', '0-9', '3-9', '9+',
  [
    field('TransactionalId', 'string', '3+', { nullable: '3+', default: null }),
    field('Acks', 'int16'),
    field('TimeoutMs', 'int32'),
    group('TopicData', '[]struct', '0+', [
      field('Name', 'string'),
      group('PartitionData', '[]struct', '0+', [field('Index', 'int32'), field('Records', 'records', '0+', { nullable: '0+' })]),
    ]),
  ],
  [
    group('Responses', '[]struct', '0+', [
      field('Name', 'string'),
      group('PartitionResponses', '[]struct', '0+', [
        field('Index', 'int32'),
        field('ErrorCode', 'int16'),
        field('BaseOffset', 'int64'),
        field('LogAppendTimeMs', 'int64', '2+', { default: -1 }),
        field('LogStartOffset', 'int64', '5+', { default: -1 }),
        group('RecordErrors', '[]struct', '8+', [field('BatchIndex', 'int32'), field('BatchIndexErrorMessage', 'string', '8+', { nullable: '8+', default: null })]),
        field('ErrorMessage', 'string', '8+', { nullable: '8+', default: null }),
      ]),
    ]),
    field('ThrottleTimeMs', 'int32', '1+'),
  ],
);

const leaderIdAndEpoch = [field('LeaderId', 'int32', '0+', { default: -1 }), field('LeaderEpoch', 'int32', '0+', { default: -1 })];
/** KIP-951: where a leader named in CurrentLeader can be reached. */
const nodeEndpoint = [field('NodeId', 'int32'), field('Host', 'string'), field('Port', 'int32'), field('Rack', 'string', '0+', { nullable: '0+', default: null })];

const fetch = api(ApiKey.Fetch, 'Fetch', '0-17', '4-17', '12+',
  [
    field('ClusterId', 'string', '12+', { nullable: '12+', tag: 0, default: null }),
    field('ReplicaId', 'int32', '0-14', { default: -1 }),
    group('ReplicaState', 'struct', '15+', [field('ReplicaId', 'int32', '15+', { default: -1 }), field('ReplicaEpoch', 'int64', '15+', { default: -1 })], { tag: 1 }),
    field('MaxWaitMs', 'int32'),
    field('MinBytes', 'int32'),
    field('MaxBytes', 'int32', '3+', { default: 0x7fffffff }),
    field('IsolationLevel', 'int8', '4+'),
    field('SessionId', 'int32', '7+'),
    field('SessionEpoch', 'int32', '7+', { default: -1 }),
    group('Topics', '[]struct', '0+', [
      field('Topic', 'string', '0-12'),
      field('TopicId', 'uuid', '13+'),
      group('Partitions', '[]struct', '0+', [
        field('Partition', 'int32'),
        field('CurrentLeaderEpoch', 'int32', '9+', { default: -1 }),
        field('FetchOffset', 'int64'),
        field('LastFetchedEpoch', 'int32', '12+', { default: -1 }),
        field('LogStartOffset', 'int64', '5+', { default: -1 }),
        field('PartitionMaxBytes', 'int32'),
        field('ReplicaDirectoryId', 'uuid', '17+', { tag: 0 }),
      ]),
    ]),
    group('ForgottenTopicsData', '[]struct', '7+', [field('Topic', 'string', '7-12'), field('TopicId', 'uuid', '13+'), field('Partitions', '[]int32', '7+')]),
    field('RackId', 'string', '11+'),
  ],
  [
    field('ThrottleTimeMs', 'int32', '1+'),
    field('ErrorCode', 'int16', '7+'),
    field('SessionId', 'int32', '7+'),
    group('Responses', '[]struct', '0+', [
      field('Topic', 'string', '0-12'),
      field('TopicId', 'uuid', '13+'),
      group('Partitions', '[]struct', '0+', [
        field('PartitionIndex', 'int32'),
        field('ErrorCode', 'int16'),
        field('HighWatermark', 'int64'),
        field('LastStableOffset', 'int64', '4+', { default: -1 }),
        field('LogStartOffset', 'int64', '5+', { default: -1 }),
        group('DivergingEpoch', 'struct', '12+', [field('Epoch', 'int32', '0+', { default: -1 }), field('EndOffset', 'int64', '0+', { default: -1 })], { tag: 0 }),
        group('CurrentLeader', 'struct', '12+', leaderIdAndEpoch, { tag: 1 }),
        group('SnapshotId', 'struct', '12+', [field('EndOffset', 'int64', '0+', { default: -1 }), field('Epoch', 'int32', '0+', { default: -1 })], { tag: 2 }),
        group('AbortedTransactions', '[]struct', '4+', [field('ProducerId', 'int64'), field('FirstOffset', 'int64')], { nullable: '4+', default: null }),
        field('PreferredReadReplica', 'int32', '11+', { default: -1 }),
        field('Records', 'records', '0+', { nullable: '0+' }),
      ]),
    ]),
    group('NodeEndpoints', '[]struct', '16+', nodeEndpoint, { tag: 0 }),
  ],
);

const listOffsets = api(ApiKey.ListOffsets, 'ListOffsets', '0-7', '0-7', '6+',
  [
    field('ReplicaId', 'int32'),
    field('IsolationLevel', 'int8', '2+'),
    group('Topics', '[]struct', '0+', [
      field('Name', 'string'),
      group('Partitions', '[]struct', '0+', [
        field('PartitionIndex', 'int32'),
        field('CurrentLeaderEpoch', 'int32', '4+', { default: -1 }),
        field('Timestamp', 'int64'),
        field('MaxNumOffsets', 'int32', '0', { default: 1 }),
      ]),
    ]),
  ],
  [
    field('ThrottleTimeMs', 'int32', '2+'),
    group('Topics', '[]struct', '0+', [
      field('Name', 'string'),
      group('Partitions', '[]struct', '0+', [
        field('PartitionIndex', 'int32'),
        field('ErrorCode', 'int16'),
        field('OldStyleOffsets', '[]int64', '0'),
        field('Timestamp', 'int64', '1+', { default: -1 }),
        field('Offset', 'int64', '1+', { default: -1 }),
        field('LeaderEpoch', 'int32', '4+', { default: -1 }),
      ]),
    ]),
  ],
);

const metadata = api(ApiKey.Metadata, 'Metadata', '0-12', '0-12', '9+',
  [
    group('Topics', '[]struct', '0+', [field('TopicId', 'uuid', '10+'), field('Name', 'string', '0+', { nullable: '10+' })], { nullable: '1+' }),
    field('AllowAutoTopicCreation', 'bool', '4+', { default: true }),
    field('IncludeClusterAuthorizedOperations', 'bool', '8-10'),
    field('IncludeTopicAuthorizedOperations', 'bool', '8+'),
  ],
  [
    field('ThrottleTimeMs', 'int32', '3+'),
    group('Brokers', '[]struct', '0+', [field('NodeId', 'int32'), field('Host', 'string'), field('Port', 'int32'), field('Rack', 'string', '1+', { nullable: '1+', default: null })]),
    field('ClusterId', 'string', '2+', { nullable: '2+', default: null }),
    field('ControllerId', 'int32', '1+', { default: -1 }),
    group('Topics', '[]struct', '0+', [
      field('ErrorCode', 'int16'),
      field('Name', 'string', '0+', { nullable: '12+' }),
      field('TopicId', 'uuid', '10+'),
      field('IsInternal', 'bool', '1+'),
      group('Partitions', '[]struct', '0+', [
        field('ErrorCode', 'int16'),
        field('PartitionIndex', 'int32'),
        field('LeaderId', 'int32'),
        field('LeaderEpoch', 'int32', '7+', { default: -1 }),
        field('ReplicaNodes', '[]int32'),
        field('IsrNodes', '[]int32'),
        field('OfflineReplicas', '[]int32', '5+'),
      ]),
      field('TopicAuthorizedOperations', 'int32', '8+', { default: AUTHORIZED_OPERATIONS_OMITTED }),
    ]),
    field('ClusterAuthorizedOperations', 'int32', '8-10', { default: AUTHORIZED_OPERATIONS_OMITTED }),
  ],
);

/*
 * FindCoordinator: v1 adds the key type (0 group, 1 transaction), v4 (KIP-699) batches keys.
 * v5 (KIP-890's TRANSACTION_ABORTABLE) and v6 (KIP-932 share groups) change nothing on the wire
 * for group keys and no client we target needs them: KafkaJS and librdkafka 2.0 send v2,
 * @platformatic/kafka (4-6) lands on v4.
 */
const findCoordinator = api(ApiKey.FindCoordinator, 'FindCoordinator', '0-4', '0-4', '3+',
  [field('Key', 'string', '0-3'), field('KeyType', 'int8', '1+'), field('CoordinatorKeys', '[]string', '4+')],
  [
    field('ThrottleTimeMs', 'int32', '1+'),
    field('ErrorCode', 'int16', '0-3'),
    field('ErrorMessage', 'string', '1-3', { nullable: '1-3', default: null }),
    field('NodeId', 'int32', '0-3', { default: -1 }),
    field('Host', 'string', '0-3'),
    field('Port', 'int32', '0-3', { default: -1 }),
    group('Coordinators', '[]struct', '4+', [
      field('Key', 'string'),
      field('NodeId', 'int32', '0+', { default: -1 }),
      field('Host', 'string'),
      field('Port', 'int32', '0+', { default: -1 }),
      field('ErrorCode', 'int16'),
      field('ErrorMessage', 'string', '0+', { nullable: '0+', default: null }),
    ]),
  ],
);

/*
 * The classic consumer-group protocol (KIP-62 rebalance timeouts, KIP-345 static members,
 * KIP-394 member ids, KIP-800 reasons, KIP-814 skip-assignment), with the offset APIs beside
 * it. Where the clients land (the newest version both sides know):
 *   JoinGroup       KafkaJS 5, librdkafka 2.0 5, @platformatic/kafka 9
 *   SyncGroup       KafkaJS 3, librdkafka 3,     @platformatic/kafka 5
 *   Heartbeat       KafkaJS 3, librdkafka 3,     @platformatic/kafka 4
 *   LeaveGroup      KafkaJS 3, librdkafka 1,     @platformatic/kafka 5
 *   OffsetCommit    KafkaJS 5, librdkafka 7,     @platformatic/kafka 9
 *   OffsetFetch     KafkaJS 4, librdkafka 7,     @platformatic/kafka 9
 *   DescribeGroups  KafkaJS 2, librdkafka 4,     @platformatic/kafka 5
 *   ListGroups      KafkaJS 2, librdkafka 4,     @platformatic/kafka 5
 *   DeleteGroups    KafkaJS 1, librdkafka 1,     @platformatic/kafka 2
 * OffsetCommit 9 and OffsetFetch 9 are the first versions KIP-848's consumer protocol may use;
 * on the wire they differ from 8 only by OffsetFetch's member id and epoch, which a classic
 * group ignores, so they are served with classic semantics (GenerationIdOrMemberEpoch is the
 * generation).
 */
const joinGroup = api(ApiKey.JoinGroup, 'JoinGroup', '0-9', '0-9', '6+',
  [
    field('GroupId', 'string'),
    field('SessionTimeoutMs', 'int32'),
    field('RebalanceTimeoutMs', 'int32', '1+', { default: -1 }),
    field('MemberId', 'string'),
    field('GroupInstanceId', 'string', '5+', { nullable: '5+', default: null }),
    field('ProtocolType', 'string'),
    group('Protocols', '[]struct', '0+', [field('Name', 'string'), field('Metadata', 'bytes')]),
    field('Reason', 'string', '8+', { nullable: '8+', default: null }),
  ],
  [
    field('ThrottleTimeMs', 'int32', '2+'),
    field('ErrorCode', 'int16'),
    field('GenerationId', 'int32', '0+', { default: -1 }),
    field('ProtocolType', 'string', '7+', { nullable: '7+', default: null }),
    field('ProtocolName', 'string', '0+', { nullable: '7+' }),
    field('Leader', 'string'),
    field('SkipAssignment', 'bool', '9+'),
    field('MemberId', 'string'),
    group('Members', '[]struct', '0+', [
      field('MemberId', 'string'),
      field('GroupInstanceId', 'string', '5+', { nullable: '5+', default: null }),
      field('Metadata', 'bytes'),
    ]),
  ],
);

const syncGroup = api(ApiKey.SyncGroup, 'SyncGroup', '0-5', '0-5', '4+',
  [
    field('GroupId', 'string'),
    field('GenerationId', 'int32'),
    field('MemberId', 'string'),
    field('GroupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
    field('ProtocolType', 'string', '5+', { nullable: '5+', default: null }),
    field('ProtocolName', 'string', '5+', { nullable: '5+', default: null }),
    group('Assignments', '[]struct', '0+', [field('MemberId', 'string'), field('Assignment', 'bytes')]),
  ],
  [
    field('ThrottleTimeMs', 'int32', '1+'),
    field('ErrorCode', 'int16'),
    field('ProtocolType', 'string', '5+', { nullable: '5+', default: null }),
    field('ProtocolName', 'string', '5+', { nullable: '5+', default: null }),
    field('Assignment', 'bytes'),
  ],
);

const heartbeat = api(ApiKey.Heartbeat, 'Heartbeat', '0-4', '0-4', '4+',
  [
    field('GroupId', 'string'),
    field('GenerationId', 'int32'),
    field('MemberId', 'string'),
    field('GroupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
  ],
  [field('ThrottleTimeMs', 'int32', '1+'), field('ErrorCode', 'int16')],
);

const leaveGroup = api(ApiKey.LeaveGroup, 'LeaveGroup', '0-5', '0-5', '4+',
  [
    field('GroupId', 'string'),
    field('MemberId', 'string', '0-2'),
    group('Members', '[]struct', '3+', [
      field('MemberId', 'string'),
      field('GroupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
      field('Reason', 'string', '5+', { nullable: '5+', default: null }),
    ]),
  ],
  [
    field('ThrottleTimeMs', 'int32', '1+'),
    field('ErrorCode', 'int16'),
    group('Members', '[]struct', '3+', [
      field('MemberId', 'string'),
      field('GroupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
      field('ErrorCode', 'int16'),
    ]),
  ],
);

const offsetCommit = api(ApiKey.OffsetCommit, 'OffsetCommit', '0-9', '1-9', '8+',
  [
    field('GroupId', 'string'),
    field('GenerationIdOrMemberEpoch', 'int32', '1+', { default: -1 }),
    field('MemberId', 'string', '1+'),
    field('GroupInstanceId', 'string', '7+', { nullable: '7+', default: null }),
    field('RetentionTimeMs', 'int64', '2-4', { default: -1 }),
    group('Topics', '[]struct', '0+', [
      field('Name', 'string'),
      group('Partitions', '[]struct', '0+', [
        field('PartitionIndex', 'int32'),
        field('CommittedOffset', 'int64'),
        field('CommittedLeaderEpoch', 'int32', '6+', { default: -1 }),
        field('CommitTimestamp', 'int64', '1', { default: -1 }),
        field('CommittedMetadata', 'string', '0+', { nullable: '0+' }),
      ]),
    ]),
  ],
  [
    field('ThrottleTimeMs', 'int32', '3+'),
    group('Topics', '[]struct', '0+', [
      field('Name', 'string'),
      group('Partitions', '[]struct', '0+', [field('PartitionIndex', 'int32'), field('ErrorCode', 'int16')]),
    ]),
  ],
);

const offsetFetchPartitions = [
  field('PartitionIndex', 'int32'),
  field('CommittedOffset', 'int64'),
  field('CommittedLeaderEpoch', 'int32', '5+', { default: -1 }),
  field('Metadata', 'string', '0+', { nullable: '0+' }),
  field('ErrorCode', 'int16'),
];

const offsetFetch = api(ApiKey.OffsetFetch, 'OffsetFetch', '0-9', '1-9', '6+',
  [
    field('GroupId', 'string', '0-7'),
    group('Topics', '[]struct', '0-7', [field('Name', 'string'), field('PartitionIndexes', '[]int32')], { nullable: '2-7' }),
    group('Groups', '[]struct', '8+', [
      field('GroupId', 'string'),
      field('MemberId', 'string', '9+', { nullable: '9+', default: null }),
      field('MemberEpoch', 'int32', '9+', { default: -1 }),
      group('Topics', '[]struct', '0+', [field('Name', 'string'), field('PartitionIndexes', '[]int32')], { nullable: '8+' }),
    ]),
    field('RequireStable', 'bool', '7+'),
  ],
  [
    field('ThrottleTimeMs', 'int32', '3+'),
    group('Topics', '[]struct', '0-7', [field('Name', 'string'), group('Partitions', '[]struct', '0+', offsetFetchPartitions)]),
    field('ErrorCode', 'int16', '2-7'),
    group('Groups', '[]struct', '8+', [
      field('GroupId', 'string'),
      group('Topics', '[]struct', '0+', [field('Name', 'string'), group('Partitions', '[]struct', '0+', offsetFetchPartitions)]),
      field('ErrorCode', 'int16'),
    ]),
  ],
);

const describeGroups = api(ApiKey.DescribeGroups, 'DescribeGroups', '0-5', '0-5', '5+',
  [field('Groups', '[]string'), field('IncludeAuthorizedOperations', 'bool', '3+')],
  [
    field('ThrottleTimeMs', 'int32', '1+'),
    group('Groups', '[]struct', '0+', [
      field('ErrorCode', 'int16'),
      field('GroupId', 'string'),
      field('GroupState', 'string'),
      field('ProtocolType', 'string'),
      field('ProtocolData', 'string'),
      group('Members', '[]struct', '0+', [
        field('MemberId', 'string'),
        field('GroupInstanceId', 'string', '4+', { nullable: '4+', default: null }),
        field('ClientId', 'string'),
        field('ClientHost', 'string'),
        field('MemberMetadata', 'bytes'),
        field('MemberAssignment', 'bytes'),
      ]),
      field('AuthorizedOperations', 'int32', '3+', { default: AUTHORIZED_OPERATIONS_OMITTED }),
    ]),
  ],
);

const listGroups = api(ApiKey.ListGroups, 'ListGroups', '0-5', '0-5', '3+',
  [field('StatesFilter', '[]string', '4+'), field('TypesFilter', '[]string', '5+')],
  [
    field('ThrottleTimeMs', 'int32', '1+'),
    field('ErrorCode', 'int16'),
    group('Groups', '[]struct', '0+', [field('GroupId', 'string'), field('ProtocolType', 'string'), field('GroupState', 'string', '4+'), field('GroupType', 'string', '5+')]),
  ],
);

const deleteGroups = api(ApiKey.DeleteGroups, 'DeleteGroups', '0-2', '0-2', '2+',
  [field('GroupsNames', '[]string')],
  [field('ThrottleTimeMs', 'int32'), group('Results', '[]struct', '0+', [field('GroupId', 'string'), field('ErrorCode', 'int16')])],
);

const apiVersions = api(ApiKey.ApiVersions, 'ApiVersions', '0-3', '0-3', '3+',
  [field('ClientSoftwareName', 'string', '3+'), field('ClientSoftwareVersion', 'string', '3+')],
  [
    field('ErrorCode', 'int16'),
    group('ApiKeys', '[]struct', '0+', [field('ApiKey', 'int16'), field('MinVersion', 'int16'), field('MaxVersion', 'int16')]),
    field('ThrottleTimeMs', 'int32', '1+'),
  ],
);

/*
 * InitProducerId (KIP-98). v2 is the first flexible version; v3 (KIP-360) lets a producer name
 * its current id and epoch; v4 and v5 change only what clients may expect in answers to
 * transactional producers. KafkaJS sends v0-1, librdkafka up to v4, @platformatic/kafka v3-5.
 */
const initProducerId = api(ApiKey.InitProducerId, 'InitProducerId', '0-5', '0-5', '2+',
  [
    field('TransactionalId', 'string', '0+', { nullable: '0+' }),
    field('TransactionTimeoutMs', 'int32'),
    field('ProducerId', 'int64', '3+', { default: -1 }),
    field('ProducerEpoch', 'int16', '3+', { default: -1 }),
  ],
  [
    field('ThrottleTimeMs', 'int32'),
    field('ErrorCode', 'int16'),
    field('ProducerId', 'int64', '0+', { default: -1 }),
    field('ProducerEpoch', 'int16'),
  ],
);

const createTopicConfigs = group('Configs', '[]struct', '5+', [
  field('Name', 'string'),
  field('Value', 'string', '0+', { nullable: '0+', default: null }),
  field('ReadOnly', 'bool'),
  field('ConfigSource', 'int8', '0+', { default: -1 }),
  field('IsSensitive', 'bool'),
], { nullable: '5+' });

const createTopics = api(ApiKey.CreateTopics, 'CreateTopics', '0-7', '0-7', '5+',
  [
    group('Topics', '[]struct', '0+', [
      field('Name', 'string'),
      field('NumPartitions', 'int32'),
      field('ReplicationFactor', 'int16'),
      group('Assignments', '[]struct', '0+', [field('PartitionIndex', 'int32'), field('BrokerIds', '[]int32')]),
      group('Configs', '[]struct', '0+', [field('Name', 'string'), field('Value', 'string', '0+', { nullable: '0+' })]),
    ]),
    field('TimeoutMs', 'int32'),
    field('ValidateOnly', 'bool', '1+'),
  ],
  [
    field('ThrottleTimeMs', 'int32', '2+'),
    group('Topics', '[]struct', '0+', [
      field('Name', 'string'),
      field('TopicId', 'uuid', '7+'),
      field('ErrorCode', 'int16'),
      field('ErrorMessage', 'string', '1+', { nullable: '0+', default: null }),
      field('TopicConfigErrorCode', 'int16', '5+', { tag: 0 }),
      field('NumPartitions', 'int32', '5+', { default: -1 }),
      field('ReplicationFactor', 'int16', '5+', { default: -1 }),
      createTopicConfigs,
    ]),
  ],
);

const deleteTopics = api(ApiKey.DeleteTopics, 'DeleteTopics', '0-6', '0-6', '4+',
  [
    group('Topics', '[]struct', '6+', [field('Name', 'string', '6+', { nullable: '6+' }), field('TopicId', 'uuid', '6+')]),
    field('TopicNames', '[]string', '0-5'),
    field('TimeoutMs', 'int32'),
  ],
  [
    field('ThrottleTimeMs', 'int32', '1+'),
    group('Responses', '[]struct', '0+', [
      field('Name', 'string', '0+', { nullable: '6+' }),
      field('TopicId', 'uuid', '6+'),
      field('ErrorCode', 'int16'),
      field('ErrorMessage', 'string', '5+', { nullable: '5+', default: null }),
    ]),
  ],
);

const alterConfigsResponse = [
  field('ThrottleTimeMs', 'int32'),
  group('Responses', '[]struct', '0+', [
    field('ErrorCode', 'int16'),
    field('ErrorMessage', 'string', '0+', { nullable: '0+', default: null }),
    field('ResourceType', 'int8'),
    field('ResourceName', 'string'),
  ]),
];

const alterConfigs = api(ApiKey.AlterConfigs, 'AlterConfigs', '0-2', '0-2', '2+',
  [
    group('Resources', '[]struct', '0+', [
      field('ResourceType', 'int8'),
      field('ResourceName', 'string'),
      group('Configs', '[]struct', '0+', [field('Name', 'string'), field('Value', 'string', '0+', { nullable: '0+' })]),
    ]),
    field('ValidateOnly', 'bool'),
  ],
  alterConfigsResponse,
);

const incrementalAlterConfigs = api(ApiKey.IncrementalAlterConfigs, 'IncrementalAlterConfigs', '0-1', '0-1', '1+',
  [
    group('Resources', '[]struct', '0+', [
      field('ResourceType', 'int8'),
      field('ResourceName', 'string'),
      group('Configs', '[]struct', '0+', [field('Name', 'string'), field('ConfigOperation', 'int8'), field('Value', 'string', '0+', { nullable: '0+' })]),
    ]),
    field('ValidateOnly', 'bool'),
  ],
  alterConfigsResponse,
);

const alterPartitionReassignments = api(ApiKey.AlterPartitionReassignments, 'AlterPartitionReassignments', '0', '0', '0+',
  [
    field('TimeoutMs', 'int32', '0+', { default: 60_000 }),
    group('Topics', '[]struct', '0+', [
      field('Name', 'string'),
      group('Partitions', '[]struct', '0+', [field('PartitionIndex', 'int32'), field('Replicas', '[]int32', '0+', { nullable: '0+', default: null })]),
    ]),
  ],
  [
    field('ThrottleTimeMs', 'int32'),
    field('ErrorCode', 'int16'),
    field('ErrorMessage', 'string', '0+', { nullable: '0+', default: null }),
    group('Responses', '[]struct', '0+', [
      field('Name', 'string'),
      group('Partitions', '[]struct', '0+', [
        field('PartitionIndex', 'int32'),
        field('ErrorCode', 'int16'),
        field('ErrorMessage', 'string', '0+', { nullable: '0+', default: null }),
      ]),
    ]),
  ],
);

const listPartitionReassignments = api(ApiKey.ListPartitionReassignments, 'ListPartitionReassignments', '0', '0', '0+',
  [
    field('TimeoutMs', 'int32', '0+', { default: 60_000 }),
    group('Topics', '[]struct', '0+', [field('Name', 'string'), field('PartitionIndexes', '[]int32')], { nullable: '0+' }),
  ],
  [
    field('ThrottleTimeMs', 'int32'),
    field('ErrorCode', 'int16'),
    field('ErrorMessage', 'string', '0+', { nullable: '0+', default: null }),
    group('Topics', '[]struct', '0+', [
      field('Name', 'string'),
      group('Partitions', '[]struct', '0+', [
        field('PartitionIndex', 'int32'),
        field('Replicas', '[]int32'),
        field('AddingReplicas', '[]int32'),
        field('RemovingReplicas', '[]int32'),
      ]),
    ]),
  ],
);

const createPartitions = api(ApiKey.CreatePartitions, 'CreatePartitions', '0-3', '0-3', '2+',
  [
    group('Topics', '[]struct', '0+', [
      field('Name', 'string'),
      field('Count', 'int32'),
      group('Assignments', '[]struct', '0+', [field('BrokerIds', '[]int32')], { nullable: '0+' }),
    ]),
    field('TimeoutMs', 'int32'),
    field('ValidateOnly', 'bool'),
  ],
  [
    field('ThrottleTimeMs', 'int32'),
    group('Results', '[]struct', '0+', [field('Name', 'string'), field('ErrorCode', 'int16'), field('ErrorMessage', 'string', '0+', { nullable: '0+', default: null })]),
  ],
);

const deleteRecords = api(ApiKey.DeleteRecords, 'DeleteRecords', '0-2', '0-2', '2+',
  [
    group('Topics', '[]struct', '0+', [field('Name', 'string'), group('Partitions', '[]struct', '0+', [field('PartitionIndex', 'int32'), field('Offset', 'int64')])]),
    field('TimeoutMs', 'int32'),
  ],
  [
    field('ThrottleTimeMs', 'int32'),
    group('Topics', '[]struct', '0+', [
      field('Name', 'string'),
      group('Partitions', '[]struct', '0+', [field('PartitionIndex', 'int32'), field('LowWatermark', 'int64'), field('ErrorCode', 'int16')]),
    ]),
  ],
);

const offsetForLeaderEpoch = api(ApiKey.OffsetForLeaderEpoch, 'OffsetForLeaderEpoch', '0-4', '0-4', '4+',
  [
    field('ReplicaId', 'int32', '3+', { default: -2 }),
    group('Topics', '[]struct', '0+', [
      field('Topic', 'string'),
      group('Partitions', '[]struct', '0+', [field('Partition', 'int32'), field('CurrentLeaderEpoch', 'int32', '2+', { default: -1 }), field('LeaderEpoch', 'int32')]),
    ]),
  ],
  [
    field('ThrottleTimeMs', 'int32', '2+'),
    group('Topics', '[]struct', '0+', [
      field('Topic', 'string'),
      group('Partitions', '[]struct', '0+', [
        field('ErrorCode', 'int16'),
        field('Partition', 'int32'),
        field('LeaderEpoch', 'int32', '1+', { default: -1 }),
        field('EndOffset', 'int64', '0+', { default: -1 }),
      ]),
    ]),
  ],
);

const describeConfigs = api(ApiKey.DescribeConfigs, 'DescribeConfigs', '0-4', '0-4', '4+',
  [
    group('Resources', '[]struct', '0+', [field('ResourceType', 'int8'), field('ResourceName', 'string'), field('ConfigurationKeys', '[]string', '0+', { nullable: '0+' })]),
    field('IncludeSynonyms', 'bool', '1+'),
    field('IncludeDocumentation', 'bool', '3+'),
  ],
  [
    field('ThrottleTimeMs', 'int32'),
    group('Results', '[]struct', '0+', [
      field('ErrorCode', 'int16'),
      field('ErrorMessage', 'string', '0+', { nullable: '0+', default: null }),
      field('ResourceType', 'int8'),
      field('ResourceName', 'string'),
      group('Configs', '[]struct', '0+', [
        field('Name', 'string'),
        field('Value', 'string', '0+', { nullable: '0+', default: null }),
        field('ReadOnly', 'bool'),
        field('IsDefault', 'bool', '0'),
        field('ConfigSource', 'int8', '1+', { default: -1 }),
        field('IsSensitive', 'bool'),
        group('Synonyms', '[]struct', '1+', [field('Name', 'string'), field('Value', 'string', '0+', { nullable: '0+', default: null }), field('Source', 'int8')]),
        field('ConfigType', 'int8', '3+'),
        field('Documentation', 'string', '3+', { nullable: '0+', default: null }),
      ]),
    ]),
  ],
);

const describeCluster = api(ApiKey.DescribeCluster, 'DescribeCluster', '0-1', '0-1', '0+',
  [field('IncludeClusterAuthorizedOperations', 'bool'), field('EndpointType', 'int8', '1+', { default: 1 })],
  [
    field('ThrottleTimeMs', 'int32'),
    field('ErrorCode', 'int16'),
    field('ErrorMessage', 'string', '0+', { nullable: '0+', default: null }),
    field('EndpointType', 'int8', '1+', { default: 1 }),
    field('ClusterId', 'string'),
    field('ControllerId', 'int32', '0+', { default: -1 }),
    group('Brokers', '[]struct', '0+', [field('BrokerId', 'int32'), field('Host', 'string'), field('Port', 'int32'), field('Rack', 'string', '0+', { nullable: '0+', default: null })]),
    field('ClusterAuthorizedOperations', 'int32', '0+', { default: AUTHORIZED_OPERATIONS_OMITTED }),
  ],
);

export const API_TABLE: readonly ApiSpec[] = [
  produce, fetch, listOffsets, metadata, offsetCommit, offsetFetch, findCoordinator, joinGroup, heartbeat, leaveGroup, syncGroup, describeGroups, listGroups, apiVersions, createTopics, deleteTopics, deleteRecords, initProducerId, offsetForLeaderEpoch, describeConfigs, alterConfigs, createPartitions, deleteGroups, incrementalAlterConfigs, alterPartitionReassignments, listPartitionReassignments, describeCluster,
];
