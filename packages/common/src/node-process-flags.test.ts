import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_PROCESS_FLAGS, missingNodeProcessFlags } from './node-process-flags.js';

describe('missingNodeProcessFlags', () => {
  it('names every flag when node ran without any', () => {
    expect(missingNodeProcessFlags([])).toEqual([...NODE_PROCESS_FLAGS]);
    expect(missingNodeProcessFlags(['--conditions=@rivulet/source', '--enable-source-maps'])).toEqual([...NODE_PROCESS_FLAGS]);
  });

  it('accepts a flag given with another value or spelled with underscores', () => {
    expect(missingNodeProcessFlags([...NODE_PROCESS_FLAGS])).toEqual([]);
    expect(missingNodeProcessFlags(['--initial-old-space-size=512'])).toEqual([]);
    expect(missingNodeProcessFlags(['--initial_old_space_size=256'])).toEqual([]);
  });
});

describe('the launchers in the repository', () => {
  const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
  // Each starts node processes running `rivulet start` by hand, so each spells the flags out.
  it.each(['deploy/Dockerfile', 'scripts/quickstart.sh', 'package.json', 'README.md'])('%s passes NODE_PROCESS_FLAGS', (path) => {
    const text = readFileSync(join(repoRoot, path), 'utf8');
    for (const flag of NODE_PROCESS_FLAGS) expect(text).toContain(flag);
  });
});
