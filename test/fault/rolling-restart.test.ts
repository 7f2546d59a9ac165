import { describe } from 'vitest';
import { rollingRestart } from './faults.js';
import { faultTest } from './scenario.js';

describe('fault: rolling-restart', () => {
  faultTest({ name: 'rolling-restart', faults: [rollingRestart], shortRounds: 1 });
});
