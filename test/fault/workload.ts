import { RivuletError } from '@rivulet/common';
import { RivuletClient, type Consumer, type Producer } from '@rivulet/client';
import type { History } from '@rivulet/testkit';

export interface WorkloadOptions {
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly partitions: number;
  readonly history: History;
  /** Producer clients; each writes to every partition. Default 2. */
  readonly producers?: number;
  /**
   * Sends in flight per producer and partition (each one a lane that waits for its answer
   * before the next send). One lane per partition keeps partitions independent, so a stalled
   * partition does not starve the others and availability is measured per partition. Default 1.
   */
  readonly inFlightPerPartition?: number;
  /** Pause between two sends of one lane, to leave the 2 cores to the cluster. Default 5. */
  readonly sendIntervalMs?: number;
  readonly requestTimeoutMs?: number;
  readonly deliveryTimeoutMs?: number;
  /** Read every partition live from offset 0 as records come (reader `live`). Default true; off where other readers (a consumer group) do the reading. */
  readonly liveReaders?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Timeouts and lost connections leave a produce's outcome unknown; anything else is a failure. */
function isIndeterminate(err: unknown): boolean {
  if (!(err instanceof RivuletError)) return true;
  return err.errorName === 'REQUEST_TIMED_OUT' || err.errorName === 'NETWORK_EXCEPTION' || /timed out|deliveryTimeoutMs|deadline/i.test(err.message);
}

function describe(err: unknown): string {
  return err instanceof RivuletError ? `${err.errorName}: ${err.message}` : String(err);
}

/**
 * The fault tests' workload: producers with acks=all and lingerMs 0 writing unique values
 * (`p<producer>-<partition>-<seq>`) to every partition, each attempt and outcome in the
 * history; a live consumer reading every partition from offset 0 as the records come; and,
 * after the faults healed, a final read of every partition from the beginning.
 */
export class Workload {
  private readonly clients: RivuletClient[] = [];
  private readonly producers: Producer[] = [];
  private readonly lanes: Promise<void>[] = [];
  private running = false;
  private readonly liveConsumers = new Set<Consumer>();
  private readonly liveLoops: Promise<void>[] = [];
  private readonly livePositions = new Map<number, number>();
  private readonly inFlightSends = new Set<Promise<unknown>>();

  constructor(private readonly options: WorkloadOptions) {}

  private newClient(): RivuletClient {
    const client = new RivuletClient({ bootstrap: [...this.options.bootstrap], requestTimeoutMs: this.options.requestTimeoutMs ?? 3000, metadataMaxAgeMs: 2000 });
    this.clients.push(client);
    return client;
  }

  start(): void {
    this.running = true;
    const { partitions, history, topic } = this.options;
    for (let p = 0; p < (this.options.producers ?? 2); p++) {
      const producer = this.newClient().producer({
        acks: 'all',
        lingerMs: 0,
        deliveryTimeoutMs: this.options.deliveryTimeoutMs ?? 10_000,
        retryBackoffMaxMs: 500,
      });
      this.producers.push(producer);
      for (let partition = 0; partition < partitions; partition++) {
        for (let lane = 0; lane < (this.options.inFlightPerPartition ?? 1); lane++) {
          const name = `p${p}`;
          const prefix = `${name}-${partition}${lane === 0 ? '' : `.${lane}`}`;
          this.lanes.push(this.lane(producer, name, prefix, partition, topic, history));
        }
      }
    }
    if (this.options.liveReaders === false) return;
    const liveClient = this.newClient();
    for (let partition = 0; partition < partitions; partition++) {
      this.livePositions.set(partition, 0);
      this.liveLoops.push(this.readLive(liveClient, partition));
    }
  }

  private async lane(producer: Producer, name: string, prefix: string, partition: number, topic: string, history: History): Promise<void> {
    for (let seq = 0; this.running; seq++) {
      const value = `${prefix}-${seq}`;
      history.produceInvoke(name, partition, value);
      const sent = producer.send({ topic, partition, value });
      this.inFlightSends.add(sent);
      try {
        const meta = await sent;
        history.produceOk(partition, meta.offset, value);
      } catch (err) {
        if (isIndeterminate(err)) history.produceUnknown(partition, value, describe(err));
        else history.produceFail(partition, value, describe(err));
        // Do not spin on a partition without a leader.
        await sleep(100);
      } finally {
        this.inFlightSends.delete(sent);
      }
      if (this.options.sendIntervalMs !== 0) await sleep(this.options.sendIntervalMs ?? 5);
    }
  }

  /**
   * Reads one partition continuously from offset 0 with autoOffsetReset 'none': the consumer
   * never jumps. A fetch error ends the consumer; a new one resumes where it was. One
   * consumer per partition keeps each reader's history independent.
   */
  private async readLive(client: RivuletClient, partition: number): Promise<void> {
    const { topic, history } = this.options;
    const tp = { topic, partition };
    while (this.running) {
      const consumer = client.consumer({ autoOffsetReset: 'none', fetchMaxWaitMs: 200, requestTimeoutMs: 3000 });
      this.liveConsumers.add(consumer);
      consumer.assign([tp]);
      consumer.seek(tp, this.livePositions.get(partition)!);
      try {
        await consumer.run({
          eachRecord: (record) => {
            history.consumeRead('live', record.partition, record.offset, record.value?.toString() ?? '');
            this.livePositions.set(record.partition, record.offset + 1);
          },
        });
      } catch (err) {
        history.note(`live consumer of p${partition}: ${describe(err)}; resuming at ${this.livePositions.get(partition)}`);
        await sleep(500);
      } finally {
        this.liveConsumers.delete(consumer);
        await consumer.close();
      }
    }
  }

  /** Stops the producers (letting sends in flight finish or time out) and the live consumer. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.lanes);
    this.options.history.workloadEnd();
    // Let the live consumers catch up with the last acknowledged records before they stop.
    await sleep(1000);
    await Promise.all([...this.liveConsumers].map((c) => c.close()));
    await Promise.all(this.liveLoops);
    await Promise.all(this.producers.map((p) => p.close()));
  }

  /**
   * Reads every partition from the beginning up to its high watermark with a fresh client,
   * recording each record as reader 'final'.
   */
  async finalRead(bootstrap: readonly string[]): Promise<void> {
    const { topic, history, partitions } = this.options;
    const client = new RivuletClient({ bootstrap: [...bootstrap], requestTimeoutMs: 10_000 });
    try {
      for (let partition = 0; partition < partitions; partition++) {
        const consumer = client.consumer({ autoOffsetReset: 'none', fetchMaxWaitMs: 100 });
        const tp = { topic, partition };
        consumer.assign([tp]);
        consumer.seek(tp, 0);
        for await (const record of consumer.stream({ stopAtEnd: true })) history.consumeRead('final', partition, record.offset, record.value?.toString() ?? '');
        await consumer.close();
      }
    } finally {
      await client.close();
    }
  }

  async close(): Promise<void> {
    this.running = false;
    await Promise.all(this.clients.map((c) => c.close().catch(() => undefined)));
  }
}
