import { RivuletError, assert, type Logger } from '@rivulet/common';

/** A block of producer ids the controller committed to this broker: [start, start + length). */
export interface ProducerIdBlock {
  readonly start: number;
  readonly length: number;
}

export interface ProducerIdManagerDeps {
  /** Asks the controller for the next block (AllocateProducerIds); rejects when it cannot answer. */
  readonly allocate: () => Promise<ProducerIdBlock>;
  readonly logger: Logger;
}

/** InitProducerId calls waiting for a block at once; past it callers are told to retry. */
const BLOCK_WAITERS_MAX = 1000;
/** Share of a block left when the next one is fetched ahead, as Kafka's ProducerIdManager does at 90 %. */
const PREFETCH_REMAINING_FRACTION = 0.1;

/**
 * Hands out this broker's producer ids, one block from the controller at a time (Kafka's
 * RPCProducerIdManager, KIP-730). Ids of a block are used once, in order; a block is fetched
 * ahead when 10 % of the current one is left, so InitProducerId rarely waits for the controller.
 * Ids of an unused block are simply lost on restart, which is what makes them safe: the
 * controller never hands the same block out twice.
 */
export class ProducerIdManager {
  private next = 0;
  private end = 0;
  private blockLength = 0;
  private ahead: ProducerIdBlock | undefined;
  private fetching: Promise<void> | undefined;
  private waiters = 0;

  constructor(private readonly deps: ProducerIdManagerDeps) {}

  /** A producer id never handed out before, anywhere in the cluster. */
  async nextProducerId(): Promise<number> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const id = this.take();
      if (id !== undefined) return id;
      if (this.waiters >= BLOCK_WAITERS_MAX) break;
      this.waiters++;
      try {
        await this.fetchBlock();
      } finally {
        this.waiters--;
      }
    }
    const id = this.take();
    if (id !== undefined) return id;
    throw new RivuletError('COORDINATOR_LOAD_IN_PROGRESS', 'this broker is waiting for a block of producer ids from the controller; retry');
  }

  private take(): number | undefined {
    if (this.next >= this.end && this.ahead !== undefined) {
      this.install(this.ahead);
      this.ahead = undefined;
    }
    if (this.next >= this.end) return undefined;
    const id = this.next++;
    if (this.end - this.next <= this.blockLength * PREFETCH_REMAINING_FRACTION && this.ahead === undefined && this.fetching === undefined) {
      // Fetched in the background; a failure is retried by the next call that needs it.
      this.fetchBlock().catch((err: unknown) => this.deps.logger.warn({ err }, 'fetching the next producer id block failed'));
    }
    return id;
  }

  private install(block: ProducerIdBlock): void {
    assert(Number.isSafeInteger(block.start) && block.start > 0 && block.length > 0, `bad producer id block ${block.start}+${block.length}`);
    assert(block.start >= this.end, `producer id block ${block.start} overlaps ids already used (up to ${this.end})`);
    this.next = block.start;
    this.end = block.start + block.length;
    this.blockLength = block.length;
  }

  /** One allocation in flight at a time; every caller that needs a block waits on it. */
  private fetchBlock(): Promise<void> {
    this.fetching ??= this.deps
      .allocate()
      .then((block) => {
        this.deps.logger.info({ producerIdStart: block.start, producerIdCount: block.length }, 'received a producer id block');
        if (this.next >= this.end) this.install(block);
        else this.ahead = block;
      })
      .finally(() => {
        this.fetching = undefined;
      });
    return this.fetching;
  }
}

/** Kafka's InitProducerId, without transactions. */
export interface InitProducerIdRequest {
  /** null (or absent) for an idempotent producer; anything else asks for transactions. */
  transactionalId: string | null;
  /** The producer's current id and epoch (InitProducerId v3+), or -1 and -1. */
  producerId: number;
  producerEpoch: number;
}

export interface InitProducerIdResponse {
  producerId: number;
  producerEpoch: number;
}

/**
 * Answers InitProducerId as Kafka does for a producer without a transactional id: a new
 * producer id with epoch 0, whatever id and epoch it had (Kafka's TransactionCoordinator
 * "blindly" allocates a new id then; only a transactional id has durable state that could
 * prove which epoch is current, so bumping an idempotent producer's epoch here could hand two
 * producers the same id and epoch). Transactions are not offered: a transactional id is
 * refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients treat as fatal and report
 * against the transactional id, instead of retrying a coordinator that will never exist.
 */
export async function initProducerId(ids: ProducerIdManager, request: InitProducerIdRequest): Promise<InitProducerIdResponse> {
  if (request.transactionalId !== null) {
    throw new RivuletError('TRANSACTIONAL_ID_AUTHORIZATION_FAILED', `transactions are not supported; transactional id '${request.transactionalId}' is refused (idempotence without one works)`);
  }
  if ((request.producerId === -1) !== (request.producerEpoch === -1)) {
    throw new RivuletError('INVALID_REQUEST', `producer id ${request.producerId} and epoch ${request.producerEpoch}: give both or neither`);
  }
  return { producerId: await ids.nextProducerId(), producerEpoch: 0 };
}
