import { AssertionError, ErrorCode, RivuletError } from '@rivulet/common';
import type { MessageValue } from '../schema/field.js';
import { advertisedBrokers, type HandlerContext } from './handler-context.js';

interface FindCoordinatorRequestBody {
  key: string;
  keyType: number;
  coordinatorKeys: string[];
}

const KeyType = { GROUP: 0, TRANSACTION: 1 } as const;

interface Coordinator {
  nodeId: number;
  host: string;
  port: number;
  errorCode: number;
  errorMessage: string | null;
}

/**
 * FindCoordinator: a group's coordinator is the leader of its __consumer_offsets partition
 * (Broker.findGroupCoordinator), answered at the address clients reach that broker's Kafka
 * listener on. COORDINATOR_NOT_AVAILABLE, which clients retry, while that topic is being created
 * or the partition has no leader, and for a leader without a Kafka listener. Transactions do not
 * exist, so a transactional key is answered COORDINATOR_NOT_AVAILABLE with a message saying so;
 * another key type (v6's share groups) is INVALID_REQUEST, as Kafka answers one it does not
 * serve. v0-3 ask for one key (v0 always a group), v4 (KIP-699) for several, answered each.
 */
export async function handleFindCoordinator(request: MessageValue, version: number, context: HandlerContext): Promise<MessageValue> {
  const body = request as unknown as FindCoordinatorRequestBody;
  if (version < 4) {
    const found = await findCoordinator(body.keyType, body.key, context);
    return { throttleTimeMs: 0, ...found };
  }
  const coordinators = await Promise.all(body.coordinatorKeys.map(async (key) => ({ key, ...(await findCoordinator(body.keyType, key, context)) })));
  return { throttleTimeMs: 0, coordinators };
}

function notFound(errorCode: number, errorMessage: string): Coordinator {
  return { nodeId: -1, host: '', port: -1, errorCode, errorMessage };
}

async function findCoordinator(keyType: number, key: string, context: HandlerContext): Promise<Coordinator> {
  if (keyType === KeyType.TRANSACTION) return notFound(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'transactions are not supported: there is no transaction coordinator');
  if (keyType !== KeyType.GROUP) return notFound(ErrorCode.INVALID_REQUEST, `coordinator key type ${keyType} is not supported`);
  let nodeId: number;
  try {
    nodeId = await context.broker.findGroupCoordinator(key);
  } catch (err) {
    if (err instanceof AssertionError || !(err instanceof RivuletError)) throw err;
    return notFound(err.code, err.message);
  }
  const node = advertisedBrokers(context.broker.describeCluster().brokers, context).find((b) => b.nodeId === nodeId);
  if (node === undefined) return notFound(ErrorCode.COORDINATOR_NOT_AVAILABLE, `the coordinator, broker ${nodeId}, has no Kafka listener clients can reach`);
  return { nodeId, host: node.host, port: node.port, errorCode: ErrorCode.NONE, errorMessage: null };
}
