import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '@rivulet/common';
import { configOptions, defaultConfig, envName, flagName, loadConfig } from './config.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rivulet-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('configuration', () => {
  it('names flags and environment variables after the option', () => {
    expect(flagName('grpcPort')).toBe('--grpc-port');
    expect(envName('grpcPort')).toBe('RIVULET_GRPC_PORT');
    expect(envName('autoCreateTopics')).toBe('RIVULET_AUTO_CREATE_TOPICS');
  });

  it('has a default for every option', () => {
    for (const option of configOptions) expect(defaultConfig[option.name], option.name).not.toBeUndefined();
    expect(loadConfig()).toEqual(defaultConfig);
  });

  it('applies file, then environment, then flags', async () => {
    const file = join(dir, 'node.properties');
    await writeFile(file, '# a Kafka-style file\nnode.id=7\ngrpcPort=1000\nhttp-port=2000\nlog.retention.ms=5\nproducer.id.expiration.ms=60000\n');
    const config = loadConfig({ configFile: file, env: { RIVULET_GRPC_PORT: '3000', RIVULET_HTTP_PORT: '4000' }, flags: { httpPort: '5000' } });
    expect(config.nodeId).toBe(7);
    expect(config.retentionMs).toBe(5);
    expect(config.producerIdExpirationMs).toBe(60_000);
    expect(config.grpcPort).toBe(3000);
    expect(config.httpPort).toBe(5000);
  });

  it('reads JSON config files', async () => {
    const file = join(dir, 'node.json');
    await writeFile(file, JSON.stringify({ dataDir: '/var/lib/rivulet', flushPolicy: 'always', autoCreateTopics: false }));
    expect(loadConfig({ configFile: file })).toMatchObject({ dataDir: '/var/lib/rivulet', flushPolicy: 'always', autoCreateTopics: false });
  });

  it('refuses bad values with INVALID_CONFIG naming the source', async () => {
    const cases: [() => unknown, RegExp][] = [
      [() => loadConfig({ flags: { grpcPort: 'abc' } }), /grpcPort from flag --grpc-port must be an integer/],
      [() => loadConfig({ env: { RIVULET_FLUSH_POLICY: 'sometimes' } }), /flushPolicy from environment RIVULET_FLUSH_POLICY must be one of os, always/],
      [() => loadConfig({ flags: { grpcPort: 70000 } }), /grpcPort must be a port number/],
      [() => loadConfig({ flags: { autoCreateTopics: 'maybe' } }), /must be true or false/],
      [() => loadConfig({ configFile: join(dir, 'missing.json') }), /cannot read config file/],
    ];
    for (const [load, message] of cases) {
      expect(load).toThrow(message);
      try {
        load();
      } catch (err) {
        expect((err as { code: number }).code).toBe(ErrorCode.INVALID_CONFIG);
      }
    }
    const file = join(dir, 'unknown.properties');
    await writeFile(file, 'no.such.setting=1\n');
    expect(() => loadConfig({ configFile: file })).toThrow(/unknown setting "no.such.setting"/);
  });
});
