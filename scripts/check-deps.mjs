#!/usr/bin/env node
// Checks the design's dependency arrows: each workspace package may depend only on the
// packages listed for it below, and the pure cores only on @rivulet/common. A package not
// in the table fails the check, so adding one means deciding where it sits.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const allowed = {
  common: [],
  records: ['common'],
  proto: ['common'],
  raft: ['common'],
  metadata: ['common'],
  replication: ['common'],
  group: ['common'],
  storage: ['common', 'records'],
  'transport-grpc': ['common', 'proto'],
  sim: ['common', 'raft', 'metadata', 'replication'],
  controller: ['common', 'raft', 'metadata', 'storage', 'transport-grpc', 'proto'],
  broker: ['common', 'records', 'storage', 'replication', 'group', 'metadata', 'transport-grpc', 'proto'],
  kafka: ['common', 'records', 'broker'],
  client: ['common', 'records', 'group', 'proto', 'transport-grpc'],
  server: ['common', 'records', 'storage', 'proto', 'transport-grpc', 'controller', 'broker', 'kafka', 'client'],
  cli: ['common', 'records', 'client', 'server'],
  testkit: ['common', 'client', 'server'],
};

const root = join(import.meta.dirname, '..');
const packagesDir = join(root, 'packages');
let failures = 0;
for (const dir of readdirSync(packagesDir)) {
  const manifestPath = join(packagesDir, dir, 'package.json');
  if (!existsSync(manifestPath)) continue;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const name = manifest.name.replace(/^@rivulet\//, '');
  if (!(name in allowed)) {
    console.error(`check-deps: package ${manifest.name} is not in the dependency table of scripts/check-deps.mjs`);
    failures++;
    continue;
  }
  const deps = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })
    .filter((d) => d.startsWith('@rivulet/'))
    .map((d) => d.replace(/^@rivulet\//, ''));
  for (const dep of deps) {
    if (!allowed[name].includes(dep)) {
      console.error(`check-deps: ${manifest.name} must not depend on @rivulet/${dep} (allowed: ${allowed[name].join(', ') || 'none'})`);
      failures++;
    }
  }
}
if (failures > 0) process.exit(1);
console.log('check-deps: every package depends only along the design\'s arrows');
