import { execFileSync, spawn } from 'node:child_process';

function hasCommand(command: string): boolean {
  try {
    execFileSync(command, ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** kcat comes from Debian (`apt-get install -y kcat`); where it is missing, tests that need it skip by name. */
export const hasKcat = hasCommand('kcat');

/** Runs kcat with `input` on stdin; resolves with its stdout, rejects on a non-zero exit or after `timeoutMs`. */
export function runKcat(args: string[], input = '', timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`kcat ${args.join(' ')} exited ${code}: ${stderr}`));
    });
    child.stdin.end(input);
  });
}
