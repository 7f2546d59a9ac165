import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP forwarder on 127.0.0.1 that a test can cut: a silent partition, as a dropped network
 * link looks, not a refused connection. While cut, bytes are no longer forwarded either way
 * and new connections are accepted but never reach the target, so the peer notices only
 * through its own timeouts. Healing closes the stalled connections so peers reconnect.
 */
export class TcpProxy {
  private readonly server: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket | null }>();
  private isCut = false;
  port = 0;

  private constructor(private readonly targetHost: string, private readonly targetPort: number) {
    this.server = createServer((client) => this.accept(client));
  }

  static async start(target: string): Promise<TcpProxy> {
    const index = target.lastIndexOf(':');
    const proxy = new TcpProxy(target.slice(0, index), Number(target.slice(index + 1)));
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = proxy.server.address();
    proxy.port = typeof address === 'object' && address !== null ? address.port : 0;
    return proxy;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private accept(client: Socket): void {
    const pair: { client: Socket; upstream: Socket | null } = { client, upstream: null };
    this.pairs.add(pair);
    const drop = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', drop).on('close', drop);
    if (this.isCut) {
      client.pause();
      return;
    }
    const upstream = connect(this.targetPort, this.targetHost);
    pair.upstream = upstream;
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Stops forwarding, silently, in both directions. */
  cut(): void {
    this.isCut = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe();
      upstream?.unpipe();
      client.pause();
      upstream?.pause();
    }
  }

  /** Forwards again; connections stalled by the cut are closed so their owners reconnect. */
  heal(): void {
    this.isCut = false;
    for (const { client, upstream } of [...this.pairs]) {
      client.destroy();
      upstream?.destroy();
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    this.heal();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
