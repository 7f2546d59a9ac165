import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RivuletError, type Logger } from '@rivulet/common';
import type { NodeMetrics } from './metrics.js';

/** Health, readiness and Prometheus metrics over plain HTTP. */
export class HttpListener {
  private server: Server | undefined;

  constructor(
    private readonly metrics: NodeMetrics,
    private readonly isReady: () => boolean,
    private readonly logger: Logger,
  ) {}

  async listen(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const ready = this.isReady();
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'starting\n');
      } else if (path === '/metrics') {
        this.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text),
          (err: unknown) => {
            this.logger.error({ err }, 'metrics collection failed');
            res.writeHead(500).end();
          },
        );
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
      }
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new RivuletError('BROKER_NOT_AVAILABLE', `cannot bind HTTP listener on ${host}:${port}: ${err.message}`, {}, { cause: err })));
      server.listen(port, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
