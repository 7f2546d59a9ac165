import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_EPHEMERAL_LOW, PortAllocator, SLICE_SIZE, canBind, ephemeralLowPort, freePort, portSlice, sliceCount } from './ports.js';

const held: Server[] = [];

function hold(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      held.push(server);
      resolve(server);
    });
  });
}

afterEach(async () => {
  await Promise.all(held.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('ephemeralLowPort', () => {
  it('reads the low end of the range file, and assumes 32768 without one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rivulet-ports-'));
    try {
      await writeFile(join(dir, 'range'), '40000\t60999\n');
      await writeFile(join(dir, 'garbage'), 'none\n');
      expect(ephemeralLowPort(join(dir, 'range'))).toBe(40000);
      expect(ephemeralLowPort(join(dir, 'garbage'))).toBe(DEFAULT_EPHEMERAL_LOW);
      expect(ephemeralLowPort(join(dir, 'absent'))).toBe(DEFAULT_EPHEMERAL_LOW);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('portSlice', () => {
  it('cuts the space below the ephemeral range into disjoint slices, one per worker', () => {
    const low = 32768;
    const count = sliceCount(low);
    expect(count).toBeGreaterThanOrEqual(32);
    const slices = Array.from({ length: count }, (_, index) => portSlice(low, index)).sort((a, b) => a.first - b.first);
    for (const { first, end } of slices) {
      expect(end - first).toBe(SLICE_SIZE);
      expect(first).toBeGreaterThanOrEqual(1024);
      expect(end).toBeLessThanOrEqual(low);
    }
    for (let i = 1; i < slices.length; i++) expect(slices[i]!.first).toBeGreaterThanOrEqual(slices[i - 1]!.end);
    // Consecutive worker ids from any base land in distinct slices.
    const base = 123_457;
    expect(new Set([1, 2, 3, 4].map((id) => portSlice(low, base + id).first)).size).toBe(4);
  });

  it('stays above 1024 when the ephemeral range starts low, and refuses when there is no room', () => {
    expect(portSlice(2048, 0)).toEqual({ first: 1792, end: 2048 });
    expect(sliceCount(2048)).toBe(4);
    expect(portSlice(2048, 7).first).toBeGreaterThanOrEqual(1024);
    expect(() => portSlice(1100, 0)).toThrow(/no room/);
  });
});

describe('PortAllocator', () => {
  it('hands out its range in order, skips refused ports, wraps round and fails once all are refused', async () => {
    const refused = new Set([101]);
    const allocator = new PortAllocator({ first: 100, end: 104 }, (port) => Promise.resolve(!refused.has(port)));
    expect(await allocator.allocate()).toBe(100);
    expect(await allocator.allocate()).toBe(102);
    expect(await allocator.allocate()).toBe(103);
    expect(await allocator.allocate()).toBe(100);
    refused.add(100).add(102).add(103);
    await expect(allocator.allocate()).rejects.toThrow(/no free port in 100-103/);
  });

  it('gives concurrent callers different ports', async () => {
    const allocator = new PortAllocator({ first: 100, end: 110 }, () => new Promise((resolve) => setTimeout(() => resolve(true), 5)));
    const ports = await Promise.all(Array.from({ length: 10 }, () => allocator.allocate()));
    expect(new Set(ports).size).toBe(10);
  });
});

describe('freePort', () => {
  it('hands out distinct ports below the ephemeral range that a listener can bind', async () => {
    const low = ephemeralLowPort();
    const ports = [];
    for (let i = 0; i < 100; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(1024);
      expect(port).toBeLessThan(low);
    }
    await Promise.all(ports.slice(0, 5).map((port) => hold(port)));
  });

  it('skips a port a listener holds', async () => {
    // The next candidate after `before` is before + 1, unless the slice wraps round.
    const before = await freePort();
    const next = before + 1;
    if (await canBind(next)) await hold(next);
    expect(await canBind(next)).toBe(false);
    const after = await freePort();
    expect(after).not.toBe(next);
    expect(after).not.toBe(before);
  });
});
