import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PartitionStats } from '@rivulet/broker';
import type { GroupLagSnapshot } from './group-lag-metrics.js';

/** How often the event-loop lag monitor samples (prom-client's default is 10 ms). */
const EVENT_LOOP_MONITORING_PRECISION_MS = 100;

/**
 * Prometheus metrics of a node: request rates and latencies per API, bytes in and out,
 * and per-partition log figures and the lag of the consumer groups it coordinates, collected
 * when scraped.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'api' | 'outcome'>;
  readonly requestSeconds: Histogram<'api'>;
  readonly bytesIn: Counter<'topic'>;
  readonly bytesOut: Counter<'topic'>;

  constructor(partitionStats: () => PartitionStats[], groupLag: () => Promise<readonly GroupLagSnapshot[]>) {
    // The event-loop lag monitor samples with a timer: prom-client's 10 ms default woke every
    // node, idle or not, 100 times a second to do it; 100 ms still feeds the lag percentiles.
    collectDefaultMetrics({ register: this.registry, prefix: 'rivulet_process_', eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS });
    this.requests = new Counter({ name: 'rivulet_requests_total', help: 'Requests handled, by API and outcome', labelNames: ['api', 'outcome'], registers: [this.registry] });
    this.requestSeconds = new Histogram({
      name: 'rivulet_request_duration_seconds',
      help: 'Request latency, by API',
      labelNames: ['api'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers: [this.registry],
    });
    this.bytesIn = new Counter({ name: 'rivulet_produce_bytes_total', help: 'Record batch bytes produced, by topic', labelNames: ['topic'], registers: [this.registry] });
    this.bytesOut = new Counter({ name: 'rivulet_fetch_bytes_total', help: 'Record batch bytes fetched, by topic', labelNames: ['topic'], registers: [this.registry] });
    const labelNames = ['topic', 'partition'] as const;
    const gauge = (name: string, help: string, pick: (s: PartitionStats) => number): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const s of partitionStats()) this.set({ topic: s.topic, partition: String(s.partition) }, pick(s));
        },
      });
    };
    gauge('rivulet_partition_size_bytes', 'Bytes held by each partition log', (s) => s.sizeBytes);
    gauge('rivulet_partition_log_end_offset', 'Log end offset of each partition', (s) => s.logEndOffset);
    gauge('rivulet_partition_log_start_offset', 'Log start offset of each partition', (s) => s.logStartOffset);
    gauge('rivulet_partition_high_watermark', 'High watermark of each partition', (s) => s.highWatermark);
    new Gauge({
      name: 'rivulet_consumer_group_lag',
      help: 'Records a consumer group has yet to consume on a partition: high watermark minus committed offset, for the groups this node coordinates',
      labelNames: ['group', 'topic', 'partition'],
      registers: [this.registry],
      async collect() {
        const groups = await groupLag();
        this.reset();
        for (const g of groups) for (const p of g.partitions) this.set({ group: g.groupId, topic: p.topic, partition: String(p.partition) }, p.lag);
      },
    });
    new Gauge({
      name: 'rivulet_consumer_group_lag_total',
      help: 'The sum of rivulet_consumer_group_lag over the partitions of each group this node coordinates',
      labelNames: ['group'],
      registers: [this.registry],
      async collect() {
        const groups = await groupLag();
        this.reset();
        for (const g of groups) if (g.partitions.length > 0) this.set({ group: g.groupId }, g.totalLag);
      },
    });
  }

  /** Wraps an API call so its count, outcome and latency are recorded. */
  async observe<T>(api: string, call: () => Promise<T>): Promise<T> {
    const stop = this.requestSeconds.startTimer({ api });
    try {
      const result = await call();
      this.requests.inc({ api, outcome: 'ok' });
      return result;
    } catch (err) {
      this.requests.inc({ api, outcome: 'error' });
      throw err;
    } finally {
      stop();
    }
  }
}
