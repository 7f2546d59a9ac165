import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatBytes, formatCount, ProgressMeter } from './progress.js';
import { capturedIo } from './test-io.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('ProgressMeter', () => {
  it('shows records and rates once a second when stderr is a terminal', () => {
    vi.useFakeTimers();
    const io = capturedIo();
    (io.stderr as { isTTY?: boolean }).isTTY = true;
    const meter = new ProgressMeter(io, 'produced');
    meter.add(1500, 3 * 1024 * 1024);
    vi.advanceTimersByTime(1000);
    expect(io.err()).toContain('produced 1,500 records');
    expect(io.err()).toMatch(/1,500 rec\/s {2}3\.0 MiB\/s/);
    meter.stop();
    expect(io.err()).toMatch(/produced 1,500 records in \d/);
  });

  it('stays silent when stderr is not a terminal', () => {
    vi.useFakeTimers();
    const io = capturedIo();
    const meter = new ProgressMeter(io, 'consumed');
    meter.add(10, 10);
    vi.advanceTimersByTime(5000);
    meter.stop();
    expect(io.err()).toBe('');
  });

  it('formats counts and sizes for people', () => {
    expect(formatCount(1234567.8)).toBe('1,234,568');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });
});
