// The generated client API. Everything under ./gen is produced by scripts/gen-proto.sh.
export * as clientApi from './gen/rivulet/client/v1/client_api.js';
export * as raft from './gen/rivulet/raft/v1/raft.js';
export * as controllerApi from './gen/rivulet/controller/v1/controller.js';
export * as replicationApi from './gen/rivulet/replication/v1/replication.js';
