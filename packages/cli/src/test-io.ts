import { PassThrough, Readable, Writable } from 'node:stream';
import type { CliIo } from './io.js';

/** A CliIo for tests: stdin from a string, stdout and stderr captured as text. */
export interface CapturedIo extends CliIo {
  readonly out: () => string;
  readonly err: () => string;
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      callback();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

export function capturedIo(stdin = '', env: Record<string, string | undefined> = {}): CapturedIo {
  const out = collector();
  const err = collector();
  return {
    stdin: stdin === '' ? new PassThrough().end() : Readable.from([Buffer.from(stdin)]),
    stdout: out.stream,
    stderr: err.stream,
    env,
    out: out.text,
    err: err.text,
  };
}
