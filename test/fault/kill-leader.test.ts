import { describe } from 'vitest';
import { killLeader } from './faults.js';
import { faultTest } from './scenario.js';

describe('fault: kill-leader', () => {
  faultTest({ name: 'kill-leader', faults: [killLeader] });
});
