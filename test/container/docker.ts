import { execFile, spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { grpcTransportFactory, type TransportFactory } from '@rivulet/client';
import { waitFor } from '@rivulet/testkit';

// Shared by the container tests: whether a Docker engine answers, the image under test, and
// thin wrappers around the docker and docker-compose commands.

const run = promisify(execFile);

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const COMPOSE_FILE = resolve(REPO_ROOT, 'deploy/docker-compose.yml');
/** The image scripts/docker-image.sh builds. */
export const IMAGE = process.env.RIVULET_IMAGE ?? 'rivulet:dev';

function answers(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 15_000 });
  return result.status === 0;
}

/** True when a Docker engine answers `docker info` (decided once, when the test file loads). */
export const dockerAvailable = answers('docker', ['info', '--format', '{{.ServerVersion}}']);

/** docker-compose v1 (`docker-compose`, what Debian ships) or the v2 plugin (`docker compose`). */
const composeCommand: readonly string[] | undefined = answers('docker-compose', ['version'])
  ? ['docker-compose']
  : answers('docker', ['compose', 'version'])
    ? ['docker', 'compose']
    : undefined;
export const composeAvailable = dockerAvailable && composeCommand !== undefined;

export async function docker(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await run('docker', [...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`docker ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** Fails the suite with a clear message when the engine runs but the image was never built. */
export async function requireImage(): Promise<void> {
  await docker(['image', 'inspect', IMAGE]).catch(() => {
    throw new Error(`image ${IMAGE} is missing: build it with scripts/docker-image.sh`);
  });
}

/** One docker-compose project: `docker-compose -p <project> -f deploy/docker-compose.yml …`. */
export class ComposeProject {
  constructor(
    readonly project: string,
    readonly env: Record<string, string>,
    readonly file = COMPOSE_FILE,
  ) {}

  async run(args: readonly string[], timeoutMs = 180_000): Promise<string> {
    if (composeCommand === undefined) throw new Error('neither docker-compose nor docker compose is installed');
    const [command, ...prefix] = composeCommand;
    const argv = [...prefix, '-p', this.project, '-f', this.file, ...args];
    try {
      const { stdout } = await run(command!, argv, {
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, RIVULET_IMAGE: IMAGE, ...this.env },
      });
      return stdout.trim();
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${composeCommand.join(' ')} ${argv.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
    }
  }

  /** The container id of a service (running or not). */
  async containerId(service: string): Promise<string> {
    const id = await this.run(['ps', '-q', service], 30_000);
    if (id === '') throw new Error(`service ${service} of project ${this.project} has no container`);
    return id.split('\n')[0]!;
  }
}

/** Health of containers as Docker's HEALTHCHECK sees it: "starting", "healthy", "unhealthy". */
export async function healthOf(containerIds: readonly string[]): Promise<string[]> {
  const out = await docker(['inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', ...containerIds]);
  return out.split('\n');
}

export async function waitHealthy(containerIds: readonly string[], timeoutMs: number): Promise<void> {
  await waitFor(
    `containers ${containerIds.map((id) => id.slice(0, 12)).join(', ')} healthy`,
    async () => ((await healthOf(containerIds)).every((s) => s === 'healthy') ? true : undefined),
    timeoutMs,
    500,
  );
}

/**
 * A client transport that reaches brokers at the addresses the host can dial: the brokers
 * advertise names that resolve only inside their Docker network (broker-1:19093), which
 * `translate` maps to a published port (127.0.0.1:19093).
 */
export function translatingTransport(translate: (address: string) => string): TransportFactory {
  const grpc = grpcTransportFactory('container-test');
  return (address) => grpc(translate(address));
}
