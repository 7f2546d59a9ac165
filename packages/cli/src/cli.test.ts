import type { ConsumerRecord } from '@rivulet/client';
import { RivuletError } from '@rivulet/common';
import { configOptions, flagName } from '@rivulet/server';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildProgram, describeError, runCli } from './cli.js';
import { compileFormat, table } from './format.js';
import { readLineChunks } from './lines.js';
import { capturedIo } from './test-io.js';

const record: ConsumerRecord = {
  topic: 'orders',
  partition: 2,
  offset: 17,
  timestamp: 1_700_000_000_000,
  key: Buffer.from('k1'),
  value: Buffer.from('hello'),
  headers: [],
};

describe('compileFormat', () => {
  it('prints the value on its own line by default', () => {
    expect(compileFormat('%v\\n')(record)).toBe('hello\n');
  });

  it('expands every placeholder and escape', () => {
    expect(compileFormat('%T/%p@%o %t %k=%v 100%%\\t|\\n')(record)).toBe('orders/2@17 1700000000000 k1=hello 100%\t|\n');
  });

  it('appends a newline when the format has none, and prints null as empty', () => {
    expect(compileFormat('%k:%v')({ ...record, key: null })).toBe(':hello\n');
  });
});

describe('readLineChunks', () => {
  async function lines(...chunks: string[]): Promise<string[]> {
    const all: string[] = [];
    for await (const chunk of readLineChunks(Readable.from(chunks.map((c) => Buffer.from(c))))) all.push(...chunk);
    return all;
  }

  it('splits across chunk borders, drops CR of CRLF and keeps a last line without newline', async () => {
    expect(await lines('a\nb', 'c\r\nd\n', '\ne')).toEqual(['a', 'bc', 'd', '', 'e']);
  });

  it('keeps multi-byte characters split between chunks intact', async () => {
    const bytes = Buffer.from('é\n');
    const all: string[] = [];
    for await (const chunk of readLineChunks(Readable.from([bytes.subarray(0, 1), bytes.subarray(1)]))) all.push(...chunk);
    expect(all).toEqual(['é']);
  });
});

describe('the rivulet program', () => {
  it('offers every config option as a start flag, with choices for enums', () => {
    const start = buildProgram(capturedIo()).commands.find((c) => c.name() === 'start')!;
    const flags = start.options.map((o) => o.long);
    for (const spec of configOptions) expect(flags).toContain(flagName(spec.name));
    expect(flags).toContain('--config');
    expect(flags).toContain('--no-auto-create-topics');
    expect(start.options.find((o) => o.long === '--log-level')!.argChoices).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'silent']);
  });

  it('exits 0 for --help and 2 for usage errors', async () => {
    const help = capturedIo();
    expect(await runCli(['--help'], help)).toBe(0);
    expect(help.out()).toContain('produce');

    const unknown = capturedIo();
    expect(await runCli(['frobnicate'], unknown)).toBe(2);
    expect(unknown.err()).toContain("unknown command 'frobnicate'");

    const badChoice = capturedIo();
    expect(await runCli(['produce', 't', '--compression', 'rar'], badChoice)).toBe(2);
  });

  it('exits 1 with the error name and message, no stack, when the cluster is unreachable', async () => {
    const io = capturedIo();
    expect(await runCli(['topic', 'list', '--bootstrap', '127.0.0.1:1'], io)).toBe(1);
    expect(io.err()).toMatch(/^rivulet: NETWORK_EXCEPTION: /);
    expect(io.err()).not.toContain('    at ');
  });

  it('rejects bad numbers with a clear message', async () => {
    const io = capturedIo();
    expect(await runCli(['consume', 't', '--max-messages', 'many'], io)).toBe(2);
    expect(io.err()).toContain('--max-messages must be an integer >= 1, got "many"');
  });
});

describe('helpers', () => {
  it('describeError names Rivulet errors by their error name', () => {
    expect(describeError(new RivuletError('TOPIC_ALREADY_EXISTS', 'topic t already exists'))).toBe('TOPIC_ALREADY_EXISTS: topic t already exists');
    expect(describeError(new TypeError('bad'))).toBe('TypeError: bad');
  });

  it('table aligns columns', () => {
    expect(table(['A', 'BB'], [['xyz', 1]])).toBe('A    BB\nxyz  1\n');
  });
});
