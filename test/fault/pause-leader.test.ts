import { describe } from 'vitest';
import { pauseLeader } from './faults.js';
import { faultTest } from './scenario.js';

describe('fault: pause-leader', () => {
  faultTest({ name: 'pause-leader', faults: [pauseLeader] });
});
