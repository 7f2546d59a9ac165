import { defineConfig } from 'vitest/config';

// Workspace packages export their TypeScript sources under the `@rivulet/source`
// condition, so tests run against src without a build step. Integration tests
// spawn real node processes and therefore run against the built dist.
const resolve = { conditions: ['@rivulet/source', 'import', 'node', 'default'] };

export default defineConfig({
  test: {
    projects: [
      {
        resolve,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/node_modules/**', '**/dist/**'],
          testTimeout: 20_000,
        },
      },
      {
        resolve,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'packages/*/src/**/*.integration.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // Integration tests start real processes and bind ports; run files one at a time
          // so two suites never fight over the 2 cores and produce timing-dependent results.
          fileParallelism: false,
        },
      },
    ],
  },
});
