import { describe } from 'vitest';
import { killActiveController } from './faults.js';
import { faultTest } from './scenario.js';

describe('fault: kill-active-controller', () => {
  faultTest({ name: 'kill-active-controller', faults: [killActiveController] });
});
