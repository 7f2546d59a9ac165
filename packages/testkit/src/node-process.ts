import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { assert } from '@rivulet/common';

/** The built `rivulet` command; integration tests run the same binary users run. */
export const CLI_BIN = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));

export interface NodeProcessOptions {
  dataDir: string;
  /** Extra `rivulet start` flags, e.g. ['--flush-policy', 'always']. */
  args?: string[];
  /** How long to wait for the node to report that it listens. */
  startTimeoutMs?: number;
}

/**
 * One `rivulet start` child process on loopback with free ports. The node reports its
 * bound addresses in its "node started" JSON log line, which is how this learns them.
 */
export class NodeProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  grpcAddress = '';
  httpAddress: string | null = null;
  /** Last lines the node wrote to stderr, for failure messages. */
  readonly recentLogLines: string[] = [];

  constructor(private readonly options: NodeProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    assert(this.child === undefined, 'node process already running');
    const args = [CLI_BIN, 'start', '--data-dir', this.options.dataDir, '--grpc-port', '0', '--http-port', '0', '--kafka-port', '-1', '--log-format', 'json', '--log-level', 'info', ...(this.options.args ?? [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const lines = createInterface({ input: child.stderr! });
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node did not start within ${this.options.startTimeoutMs ?? 15_000} ms:\n${this.recentLogLines.join('\n')}`)), this.options.startTimeoutMs ?? 15_000);
      lines.on('line', (line) => {
        this.recentLogLines.push(line);
        if (this.recentLogLines.length > 50) this.recentLogLines.shift();
        const entry = parseJson(line);
        if (entry?.msg === 'node started') {
          clearTimeout(timer);
          this.grpcAddress = String(entry.grpc);
          this.httpAddress = typeof entry.http === 'string' ? entry.http : null;
          resolve();
        }
      });
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`node exited with ${code} before it started:\n${this.recentLogLines.join('\n')}`));
      });
    });
    await started;
  }

  /** SIGKILL: the process gets no chance to flush or close anything. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /** SIGTERM: a graceful stop. */
  async stop(): Promise<number | null> {
    return this.signalAndWait('SIGTERM');
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child) return null;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const code = await this.exited;
    this.child = undefined;
    return code;
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
