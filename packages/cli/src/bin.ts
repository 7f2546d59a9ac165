#!/usr/bin/env node
import { runCli } from './cli.js';
import { processIo } from './io.js';

// A closed pipe downstream (`rivulet consume t | head`) is a normal way to stop reading.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const exitCode = await runCli(process.argv.slice(2), processIo());
// Exit explicitly: gRPC channels and timers of a finished command must not keep the process alive.
process.exitCode = exitCode;
setImmediate(() => process.exit(exitCode));
