import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { capturedIo } from './test-io.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rivulet-cli-start-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Spawns `rivulet start` and resolves with the gRPC address it prints. */
function start(args: string[], env: Record<string, string>): Promise<{ child: ChildProcessWithoutNullStreams; address: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [bin, 'start', ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /gRPC (\S+?)[,\s]/.exec(out);
      if (match) resolve({ child, address: match[1]!, exited });
    });
    void exited.then((code) => reject(new Error(`start exited with ${code}: ${err}`)));
  });
}

describe('rivulet start', () => {
  it('takes flags, environment and a config file, serves clients, and stops cleanly on SIGTERM', async () => {
    const configFile = join(dir, 'node.json');
    await writeFile(configFile, JSON.stringify({ clusterId: 'from-file', nodeId: 3 }));
    const { child, address, exited } = await start(
      ['--config', configFile, '--data-dir', join(dir, 'data'), '--grpc-port', '0', '--kafka-port', '-1', '--http-port', '-1', '--log-level', 'silent', '--no-auto-create-topics'],
      { RIVULET_NODE_ID: '7' },
    );
    try {
      const status = capturedIo();
      expect(await runCli(['cluster', 'status', '--bootstrap', address], status)).toBe(0);
      // The file names the cluster; the environment overrides the file's node id.
      expect(status.out()).toContain('Cluster: from-file');
      expect(status.out()).toContain('Node 7 (answering)');

      const produce = capturedIo('x\n');
      expect(await runCli(['produce', 'not-auto-created', '--bootstrap', address], produce)).toBe(1);
      expect(produce.err()).toContain('UNKNOWN_TOPIC_OR_PARTITION');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('refuses an invalid setting with INVALID_CONFIG and exit code 1', async () => {
    const child = spawn(process.execPath, [bin, 'start', '--grpc-port', '70000', '--data-dir', join(dir, 'bad')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(err).toContain('INVALID_CONFIG');
  });
});
