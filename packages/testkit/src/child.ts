import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A node-process child that reported itself ready with a JSON log line on stderr. */
export interface ReadyChild {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** The parsed log line that said it was ready. */
  readyEntry: Record<string, unknown>;
}

/**
 * Starts `[...commandPrefix] node ...nodeArgs script ...args` and resolves once it writes a JSON log line to stderr whose
 * `msg` is `readyMessage`; rejects with its recent log lines if it exits or times out first.
 * `recentLogLines` keeps the last 50 lines for failure messages.
 */
export function spawnUntilReady(
  script: string,
  args: string[],
  readyMessage: string,
  timeoutMs: number,
  recentLogLines: string[],
  nodeArgs: string[] = [],
  commandPrefix: readonly string[] = [],
): Promise<ReadyChild> {
  // A command prefix (e.g. `ip netns exec NS`) must exec the node binary in place, so that the
  // child's pid is node's own and signals (SIGSTOP, SIGKILL) reach it.
  const [command, ...prefixArgs] = commandPrefix.length > 0 ? [...commandPrefix, process.execPath] : [process.execPath];
  const child = spawn(command!, [...prefixArgs, ...nodeArgs, script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stderr! });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      // A child that never became ready is nobody's to stop later: end it here.
      child.kill('SIGKILL');
      reject(new Error(`${script} did not start within ${timeoutMs} ms:\n${recentLogLines.join('\n')}`));
    }, timeoutMs);
    lines.on('line', (line) => {
      recentLogLines.push(line);
      if (recentLogLines.length > 50) recentLogLines.shift();
      const entry = parseJson(line);
      if (entry?.msg === readyMessage) {
        clearTimeout(timer);
        resolve({ child, exited, readyEntry: entry });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it started:\n${recentLogLines.join('\n')}`));
    });
  });
}

/** Sends `signal` unless the child already exited, and waits for the exit. */
export async function signalAndWait(ready: ReadyChild | undefined, signal: NodeJS.Signals): Promise<number | null> {
  if (!ready) return null;
  if (ready.child.exitCode === null && ready.child.signalCode === null) ready.child.kill(signal);
  return ready.exited;
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
