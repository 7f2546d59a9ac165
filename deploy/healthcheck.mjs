// Container health check: exits 0 when the node's HTTP listener answers /readyz with 200
// (a broker registered with the controller quorum and unfenced; a controller at once),
// 1 otherwise. Uses node itself because slim images have no curl or wget.
import { get } from 'node:http';

const port = Number(process.env.RIVULET_HTTP_PORT ?? 8080);
const bound = process.env.RIVULET_HOST ?? '0.0.0.0';
const host = bound === '0.0.0.0' || bound === '::' || bound === '' ? '127.0.0.1' : bound;

const request = get({ host, port, path: '/readyz', timeout: 2000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', (err) => {
  console.error(`readyz: ${err.message}`);
  process.exit(1);
});
