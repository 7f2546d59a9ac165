import { Command } from 'commander';
import type { Consumer, ConsumerRecord, RivuletClient, SeekTarget, TopicPartitionRef } from '@rivulet/client';
import { RivuletError } from '@rivulet/common';
import { parseInteger, withBootstrap, withClient, type BootstrapOptions } from '../client-options.js';
import { compileFormat } from '../format.js';
import { writeOut, type CliIo } from '../io.js';
import { ProgressMeter } from '../progress.js';

interface ConsumeOptions extends BootstrapOptions {
  readonly fromBeginning?: boolean;
  readonly offset?: number;
  readonly partition?: number;
  readonly maxMessages?: number;
  readonly format: string;
  readonly exitOnEnd?: boolean;
}

export function consumeCommand(io: CliIo): Command {
  return withBootstrap(new Command('consume').description('print records of a topic to stdout').argument('<topic>'))
    .option('--from-beginning', 'start at the earliest offset (default: only new records)')
    .option('-o, --offset <n>', 'start at this offset', parseInteger('--offset', 0))
    .option('-p, --partition <n>', 'read only this partition (default: all)', parseInteger('--partition', 0))
    .option('-n, --max-messages <n>', 'exit after this many records', parseInteger('--max-messages', 1))
    .option('-f, --format <format>', 'output per record: %k key, %v value, %p partition, %o offset, %t timestamp, %T topic, \\n newline', '%v\\n')
    .option('-e, --exit-on-end', 'exit once every partition has been read to its end')
    .action(async (topic: string, options: ConsumeOptions) => {
      await withClient(options, io, async (client) => {
        const partitions = await partitionsToRead(client, topic, options.partition);
        const consumer = client.consumer({ autoOffsetReset: options.fromBeginning === true ? 'earliest' : 'latest' });
        consumer.assign(partitions);
        const start: SeekTarget = options.offset ?? (options.fromBeginning === true ? 'earliest' : 'latest');
        for (const tp of partitions) consumer.seek(tp, start);
        // Ctrl-C ends a follow-mode consume normally: stop reading, finish the output, exit 0.
        const stop = (): void => void consumer.close();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          await printRecords(io, consumer, options);
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      });
    });
}

async function partitionsToRead(client: RivuletClient, topic: string, only: number | undefined): Promise<TopicPartitionRef[]> {
  const metadata = await client.admin().metadata([topic]);
  const count = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
  if (only !== undefined && only >= count) {
    throw new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} has ${count} partition(s); there is no partition ${only}`, { topic, partition: only });
  }
  return only !== undefined ? [{ topic, partition: only }] : Array.from({ length: count }, (_, partition) => ({ topic, partition }));
}

/** Formats each fetched batch into one string and writes it at once, waiting when stdout is behind. */
async function printRecords(io: CliIo, consumer: Consumer, options: ConsumeOptions): Promise<void> {
  const format = compileFormat(options.format);
  const progress = new ProgressMeter(io, 'consumed');
  const maxMessages = options.maxMessages ?? Number.POSITIVE_INFINITY;
  let printed = 0;
  try {
    await consumer.run({
      stopAtEnd: options.exitOnEnd === true,
      eachBatch: async ({ records }) => {
        const wanted: readonly ConsumerRecord[] = records.length > maxMessages - printed ? records.slice(0, maxMessages - printed) : records;
        let out = '';
        let bytes = 0;
        for (const record of wanted) {
          out += format(record);
          bytes += record.value?.length ?? 0;
        }
        printed += wanted.length;
        progress.add(wanted.length, bytes);
        await writeOut(io.stdout, out);
        if (printed >= maxMessages) await consumer.close();
      },
    });
  } finally {
    progress.stop();
    await consumer.close();
  }
}
