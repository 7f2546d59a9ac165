import type { ConsumerRecord } from '@rivulet/client';

/**
 * Compiles a consume output format, kcat style: %k key, %v value, %p partition, %o offset,
 * %t timestamp (ms), %T topic, %% a percent sign; \n, \t and \\ are escapes. A format without
 * a newline gets one appended, so every record prints on its own line.
 */
export function compileFormat(format: string): (record: ConsumerRecord) => string {
  const withEscapes = format.replace(/\\([nt\\])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
  const template = withEscapes.includes('\n') ? withEscapes : `${withEscapes}\n`;
  const parts = template.split(/(%[kvpotT%])/);
  const pieces = parts.map((part): ((record: ConsumerRecord) => string) => {
    switch (part) {
      case '%k':
        return (r) => r.key?.toString('utf8') ?? '';
      case '%v':
        return (r) => r.value?.toString('utf8') ?? '';
      case '%p':
        return (r) => String(r.partition);
      case '%o':
        return (r) => String(r.offset);
      case '%t':
        return (r) => String(r.timestamp);
      case '%T':
        return (r) => r.topic;
      case '%%':
        return () => '%';
      default:
        return () => part;
    }
  });
  if (template === '%v\n') return (r) => `${r.value?.toString('utf8') ?? ''}\n`;
  return (record) => {
    let out = '';
    for (const piece of pieces) out += piece(record);
    return out;
  };
}

/** Renders rows as aligned columns under a header. */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
