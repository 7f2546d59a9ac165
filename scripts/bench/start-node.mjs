// Starts one Rivulet node from the built packages, for benchmarks that need the node in its
// own process (so its CPU time can be read from /proc). Prints "ready <grpcAddress>" once
// listening; stops on SIGTERM. Usage: node scripts/bench/start-node.mjs DATA_DIR FLUSH_POLICY
import { defaultConfig, startNode } from '../../packages/server/dist/index.js';

const [dataDir, flushPolicy = 'os'] = process.argv.slice(2);
const node = await startNode({
  ...defaultConfig,
  dataDir,
  flushPolicy,
  grpcPort: 0,
  httpPort: -1,
  kafkaPort: -1,
  logLevel: 'warn',
  logFormat: 'json',
  autoCreateTopics: false,
});
process.stdout.write(`ready ${node.grpcAddress}\n`);
process.once('SIGTERM', () => {
  node.stop().then(() => process.exit(0), () => process.exit(1));
});
