import { defineConfig } from 'vitest/config';

// Workspace packages export their TypeScript sources under the `@rivulet/source`
// condition, so tests import src without a build step. Integration tests that spawn
// real node processes run the built dist of the `rivulet` command, so build first.
const conditions = ['@rivulet/source', 'import', 'node', 'default'];
const resolve = { conditions };
// Tests run in Vite's SSR environment, which resolves with its own conditions.
const ssr = { resolve: { conditions, externalConditions: conditions } };

export default defineConfig({
  test: {
    projects: [
      {
        resolve,
        ssr,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          setupFiles: ['test/setup/fast-check-seed.ts'],
          exclude: ['**/*.integration.test.ts', '**/node_modules/**', '**/dist/**'],
          testTimeout: 20_000,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/fault/**/*.test.ts', 'packages/*/src/**/*.integration.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // Integration tests start real processes and bind ports; run files one at a time
          // so two suites never fight over the 2 cores and produce timing-dependent results.
          fileParallelism: false,
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'container',
          // Containers of the image scripts/docker-image.sh builds, on a real Docker engine;
          // they skip (saying why) where no engine answers.
          include: ['test/container/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 240_000,
          // One cluster at a time, and only after the other projects: a cluster of containers
          // competing with process clusters for 2 cores would make its timings meaningless.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          // No registry here: testcontainers must not start its Ryuk reaper (an image it would
          // pull), so the tests stop what they start themselves.
          env: {
            TESTCONTAINERS_RYUK_DISABLED: process.env.TESTCONTAINERS_RYUK_DISABLED ?? 'true',
            TESTCONTAINERS_HOST_OVERRIDE: process.env.TESTCONTAINERS_HOST_OVERRIDE ?? 'localhost',
          },
        },
      },
    ],
  },
});
