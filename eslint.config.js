// Lint: type-aware rules for every package, plus the purity rules of the design's pure
// cores (raft, metadata, replication, group): no node:* modules, no I/O libraries, no wall-clock
// time, timers, global randomness or environment. Time, randomness and logging are injected.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const pureCores = ['packages/raft/src/**/*.ts', 'packages/metadata/src/**/*.ts', 'packages/replication/src/**/*.ts', 'packages/group/src/**/*.ts'];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'packages/proto/src/gen/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['vitest.config.ts'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: pureCores,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Pure cores do no I/O: inject what you need through the constructor.' },
            { group: ['@grpc/*', 'classic-level', 'level', 'pino', 'protobufjs', '@rivulet/storage', '@rivulet/transport-grpc', '@rivulet/proto'], message: 'Pure cores import only @rivulet/common.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use the injected Scheduler or count ticks.' },
        { name: 'setInterval', message: 'Use the injected Scheduler or count ticks.' },
        { name: 'setImmediate', message: 'Pure cores do not schedule work.' },
        { name: 'process', message: 'Pure cores read no environment.' },
        { name: 'performance', message: 'Use the injected Clock.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use the injected Clock.' },
        { object: 'Math', property: 'random', message: 'Use the injected Random.' },
      ],
    },
  },
);
