import type { CliIo } from './io.js';

/**
 * A one-line progress display on stderr for long produce and consume runs, refreshed once a
 * second. Only in a terminal: when stderr is a file or pipe, progress lines would be noise in
 * someone's log, so nothing is shown.
 */
export class ProgressMeter {
  private records = 0;
  private bytes = 0;
  private readonly startedMs = Date.now();
  private lastMs = this.startedMs;
  private lastRecords = 0;
  private lastBytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly io: CliIo,
    private readonly verb: string,
  ) {
    if (io.stderr.isTTY === true) {
      this.timer = setInterval(() => this.render(), 1000);
      this.timer.unref();
    }
  }

  add(records: number, bytes: number): void {
    this.records += records;
    this.bytes += bytes;
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    const seconds = Math.max(0.001, (Date.now() - this.startedMs) / 1000);
    this.io.stderr.write(`\r\x1b[K${this.verb} ${formatCount(this.records)} records in ${seconds.toFixed(1)} s (${formatCount(this.records / seconds)}/s)\n`);
  }

  private render(): void {
    const nowMs = Date.now();
    const seconds = Math.max(0.001, (nowMs - this.lastMs) / 1000);
    const recordRate = (this.records - this.lastRecords) / seconds;
    const byteRate = (this.bytes - this.lastBytes) / seconds;
    this.lastMs = nowMs;
    this.lastRecords = this.records;
    this.lastBytes = this.bytes;
    this.io.stderr.write(`\r\x1b[K${this.verb} ${formatCount(this.records)} records  ${formatCount(recordRate)} rec/s  ${formatBytes(byteRate)}/s`);
  }
}

export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
