#!/usr/bin/env node
// `raft-node`: one Raft member with a trivial key/value state machine and a small HTTP API,
// for integration tests and benchmarks of the Raft stack (LevelDB store, gRPC transport,
// driver) with real processes. Not the metadata controller.
//
//   node packages/controller/dist/raft-node-main.js --id 1 \
//     --peers 1@127.0.0.1:7001,2@127.0.0.1:7002,3@127.0.0.1:7003 --data-dir /tmp/r1 --http-port 0
//
// HTTP API (JSON):
//   POST /propose {"key","value"}  -> 200 {index, term} | 421 {error: "NOT_CONTROLLER", leaderId} | 503 {error, message}
//   GET  /state[?linearizable=1]    -> {appliedIndex, values}  (linearizable: after a ReadIndex round)
//   GET  /status                    -> role, term, leaderId, commit/applied/first/last/snapshot index, snapshot counts, peers
//
// Every flag has an environment variable RIVULET_RAFT_<FLAG> (upper case, '-' -> '_').
// On start it writes {"msg":"raft node started","raft":host:port,"http":url} to stderr.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { RivuletError } from '@rivulet/common';
import type { Logger, NodeId } from '@rivulet/common';
import { NotControllerError } from './errors.js';
import { KeyValueStateMachine } from './kv-state-machine.js';
import { RaftMember, parsePeers } from './raft-member.js';
import { DEFAULT_ELECTION_TIMEOUT_TICKS, DEFAULT_HEARTBEAT_INTERVAL_TICKS, DEFAULT_TICK_INTERVAL_MS } from './raft-driver.js';

const flags = {
  id: { type: 'string' },
  peers: { type: 'string' },
  'data-dir': { type: 'string' },
  'listen-host': { type: 'string' },
  'listen-port': { type: 'string' },
  'http-host': { type: 'string' },
  'http-port': { type: 'string' },
  'tick-ms': { type: 'string' },
  'election-ticks': { type: 'string' },
  'heartbeat-ticks': { type: 'string' },
  'snapshot-every': { type: 'string' },
  'snapshot-tail': { type: 'string' },
  'max-bytes-per-message': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

type Flag = keyof typeof flags;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/** JSON lines on stderr; enough for a test process (the server package owns pino). */
function jsonLogger(minLevel: Level, bindings: object = {}): Logger {
  const min = LEVELS.indexOf(minLevel);
  const log = (level: Level) => (fields: object, msg: string) => {
    if (LEVELS.indexOf(level) < min) return;
    const err = (fields as { err?: unknown }).err;
    const extra = err instanceof Error ? { err: { message: err.message, stack: err.stack } } : {};
    process.stderr.write(`${JSON.stringify({ level, time: Date.now(), ...bindings, ...fields, ...extra, msg })}\n`);
  };
  return { trace: log('trace'), debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: (more) => jsonLogger(minLevel, { ...bindings, ...more }) };
}

function setting(values: Partial<Record<Flag, string | undefined>>, flag: Flag, fallback?: string): string {
  const value = values[flag] ?? process.env[`RIVULET_RAFT_${flag.toUpperCase().replaceAll('-', '_')}`] ?? fallback;
  if (value === undefined) throw new Error(`missing --${flag}`);
  return value;
}

function intSetting(values: Partial<Record<Flag, string | undefined>>, flag: Flag, fallback: number): number {
  const value = Number(setting(values, flag, String(fallback)));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${flag} must be a non-negative integer`);
  return value;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request) {
    bytes += (chunk as Buffer).length;
    if (bytes > MAX_BODY_BYTES) throw new RivuletError('MESSAGE_TOO_LARGE', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  const bytes = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(bytes) });
  response.end(bytes);
}

function replyError(response: ServerResponse, error: unknown): void {
  if (error instanceof NotControllerError) reply(response, 421, { error: error.errorName, leaderId: error.leaderId, message: error.message });
  else if (error instanceof RivuletError) reply(response, error.errorName === 'INVALID_REQUEST' ? 400 : 503, { error: error.errorName, message: error.message });
  else reply(response, 500, { error: 'UNKNOWN_SERVER_ERROR', message: error instanceof Error ? error.message : String(error) });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: flags, strict: true });
  const logLevel = setting(values, 'log-level', 'info') as Level;
  if (!LEVELS.includes(logLevel)) throw new Error(`--log-level must be one of ${LEVELS.join(', ')}`);
  const logger = jsonLogger(logLevel);
  const id = intSetting(values, 'id', 0) as NodeId;
  const peers = parsePeers(setting(values, 'peers'));
  const snapshotEvery = intSetting(values, 'snapshot-every', 10_000);
  const machine = new KeyValueStateMachine();
  const listenPort = values['listen-port'] ?? process.env.RIVULET_RAFT_LISTEN_PORT;
  const member = await RaftMember.start({
    id,
    peers,
    dataDir: setting(values, 'data-dir'),
    listenHost: setting(values, 'listen-host', '127.0.0.1'),
    ...(listenPort === undefined ? {} : { listenPort: Number(listenPort) }),
    logger,
    driver: {
      // Defaults: the driver's (30 ms ticks, 10-tick election timeout, heartbeat every tick).
      tickIntervalMs: intSetting(values, 'tick-ms', DEFAULT_TICK_INTERVAL_MS),
      electionTimeoutTicks: intSetting(values, 'election-ticks', DEFAULT_ELECTION_TIMEOUT_TICKS),
      heartbeatIntervalTicks: intSetting(values, 'heartbeat-ticks', DEFAULT_HEARTBEAT_INTERVAL_TICKS),
      raft: { maxBytesPerMessage: intSetting(values, 'max-bytes-per-message', 1024 * 1024) },
      snapshot: {
        everyEntries: snapshotEvery,
        tailEntries: intSetting(values, 'snapshot-tail', Math.floor(snapshotEvery / 10)),
        take: () => machine.takeSnapshot(),
        install: (data, metadata) => machine.installSnapshot(data, metadata.index),
      },
      onFatal: (error) => {
        logger.error({ err: error }, 'raft member failed');
        process.exit(1);
      },
    },
  });
  const driver = member.driver;
  driver.onApply((entry) => machine.apply(entry));

  const http = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const handle = async (): Promise<void> => {
      if (request.method === 'POST' && url.pathname === '/propose') {
        let command: { key?: unknown; value?: unknown };
        try {
          command = JSON.parse((await readBody(request)).toString('utf8')) as { key?: unknown; value?: unknown };
        } catch (error) {
          throw error instanceof RivuletError ? error : new RivuletError('INVALID_REQUEST', 'body must be JSON');
        }
        if (typeof command.key !== 'string' || typeof command.value !== 'string') throw new RivuletError('INVALID_REQUEST', 'body must be {"key": string, "value": string}');
        const position = await driver.propose(KeyValueStateMachine.encodeCommand(command.key, command.value));
        reply(response, 200, position);
      } else if (request.method === 'GET' && url.pathname === '/state') {
        if (url.searchParams.get('linearizable') === '1') await driver.readLinearizable();
        reply(response, 200, { appliedIndex: machine.appliedIndex, values: machine.entries() });
      } else if (request.method === 'GET' && url.pathname === '/status') {
        reply(response, 200, { ...driver.status(), peers: member.transportStats() });
      } else {
        reply(response, 404, { error: 'NOT_FOUND' });
      }
    };
    handle().catch((error: unknown) => replyError(response, error));
  });
  const httpHost = setting(values, 'http-host', '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(intSetting(values, 'http-port', 0), httpHost, () => resolve());
  });
  const httpPort = (http.address() as AddressInfo).port;
  // Written whatever the log level: tests and scripts learn the bound addresses from it.
  process.stderr.write(`${JSON.stringify({ level: 'info', time: Date.now(), id, raft: `${setting(values, 'listen-host', '127.0.0.1')}:${member.port}`, http: `http://${httpHost}:${httpPort}`, msg: 'raft node started' })}\n`);

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'raft node stopping');
    http.close();
    member.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'raft node stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'raft node failed to start', err: error instanceof Error ? error.stack : String(error) })}\n`);
  process.exit(1);
});
