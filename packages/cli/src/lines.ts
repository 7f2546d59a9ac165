import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/**
 * Reads a stream as UTF-8 lines, yielding every whole line of a chunk at once. Much cheaper
 * than readline's per-line async iteration for millions of lines; a trailing "\r" (CRLF
 * input) is dropped, and a last line without a newline still counts.
 */
export async function* readLineChunks(input: Readable): AsyncGenerator<string[], void, undefined> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  for await (const chunk of input) {
    const text = carry + (typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer));
    const lines = text.split('\n');
    carry = lines.pop()!;
    if (lines.length > 0) yield lines.map(stripCr);
  }
  const rest = carry + decoder.end();
  if (rest !== '') yield [stripCr(rest)];
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
