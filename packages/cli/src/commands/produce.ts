import { Command, Option } from 'commander';
import type { Acks, CompressionCodecName, DeliveryCallback, Producer, RecordMetadata } from '@rivulet/client';
import { RivuletError } from '@rivulet/common';
import { parseInteger, withBootstrap, withClient, type BootstrapOptions } from '../client-options.js';
import type { CliIo } from '../io.js';
import { readLineChunks } from '../lines.js';
import { ProgressMeter } from '../progress.js';

interface ProduceOptions extends BootstrapOptions {
  readonly keySeparator?: string;
  readonly acks: string;
  readonly partition?: number;
  readonly compression: CompressionCodecName;
  readonly report?: boolean;
  readonly lingerMs: number;
  readonly batchSize: number;
}

function parseAcks(value: string): Acks {
  if (value === 'all' || value === '-1') return 'all';
  if (value === '0') return 0;
  if (value === '1') return 1;
  throw new RivuletError('INVALID_REQUIRED_ACKS', `--acks must be 0, 1, all or -1, got "${value}"`);
}

/** Counts deliveries and keeps the first failure, which stops reading more input. */
class DeliveryTracker {
  delivered = 0;
  firstError: Error | undefined;
  private reportBuffer = '';

  constructor(
    private readonly io: CliIo,
    private readonly report: boolean,
    private readonly progress: ProgressMeter,
  ) {}

  /** One callback shared by every record: a million sends must not mean a million promises and closures. */
  readonly onDelivery: DeliveryCallback = (err, metadata) => {
    if (err !== undefined) {
      this.firstError ??= err;
      return;
    }
    this.delivered++;
    this.progress.add(1, 0);
    if (this.report) this.bufferReport(metadata!);
  };

  /** Reports are gathered and written in chunks: one write per record would dominate a large run. */
  private bufferReport(metadata: RecordMetadata): void {
    this.reportBuffer += `${metadata.topic}\t${metadata.partition}\t${metadata.offset}\n`;
    if (this.reportBuffer.length >= 64 * 1024) this.flushReports();
  }

  flushReports(): void {
    if (this.reportBuffer === '') return;
    this.io.stdout.write(this.reportBuffer);
    this.reportBuffer = '';
  }
}

export function produceCommand(io: CliIo): Command {
  return withBootstrap(new Command('produce').description('send each line of stdin as a record').argument('<topic>'))
    .option('-K, --key-separator <sep>', 'split each line into KEY<sep>VALUE (lines without it get no key)')
    .addOption(new Option('--acks <acks>', 'acknowledgement: 0 (none), 1 (leader) or all (in-sync replicas)').choices(['0', '1', 'all', '-1']).default('all'))
    .option('-p, --partition <n>', 'write every record to this partition (default: by key, or sticky)', parseInteger('--partition', 0))
    .addOption(new Option('--compression <codec>', 'batch compression').choices(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('none'))
    .option('--report', 'print a delivery report (topic, partition, offset) per record')
    .option('--linger-ms <ms>', 'how long a batch waits for more records', parseInteger('--linger-ms', 0), 5)
    .option('--batch-size <bytes>', 'batch size in bytes', parseInteger('--batch-size', 1), 262_144)
    .action(async (topic: string, options: ProduceOptions) => {
      const acks = parseAcks(options.acks);
      await withClient(options, io, async (client) => {
        const producer = client.producer({
          acks,
          compression: options.compression,
          lingerMs: options.lingerMs,
          batchSizeBytes: options.batchSize,
          // Enough to keep every partition's pipeline full, small enough to keep the process lean.
          bufferMemoryBytes: 8 * 1024 * 1024,
        });
        const progress = new ProgressMeter(io, 'produced');
        const tracker = new DeliveryTracker(io, options.report === true, progress);
        try {
          await sendLines(io, producer, topic, options, tracker, progress);
          await producer.flush();
        } finally {
          progress.stop();
          tracker.flushReports();
        }
        if (tracker.firstError !== undefined) throw tracker.firstError;
      });
    });
}

/**
 * Streams stdin line by line without awaiting each delivery: sends queue in the producer's
 * bounded buffer, and reading pauses only while that buffer is full.
 */
async function sendLines(
  io: CliIo,
  producer: Producer,
  topic: string,
  options: ProduceOptions,
  tracker: DeliveryTracker,
  progress: ProgressMeter,
): Promise<void> {
  const separator = options.keySeparator === '' ? undefined : options.keySeparator;
  for await (const lines of readLineChunks(io.stdin)) {
    for (const line of lines) {
      if (tracker.firstError !== undefined) return;
      let key: string | null = null;
      let value = line;
      const at = separator === undefined ? -1 : line.indexOf(separator);
      if (at >= 0) {
        key = line.slice(0, at);
        value = line.slice(at + separator!.length);
      }
      producer.sendWithCallback({ topic, key, value, partition: options.partition }, tracker.onDelivery);
      progress.add(0, line.length);
      if (producer.isBufferFull) await producer.waitForBufferSpace();
    }
  }
}
