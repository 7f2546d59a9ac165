import { describe } from 'vitest';
import { cutLeaderFromControllers } from './faults.js';
import { faultTest } from './scenario.js';

describe('fault: cut-from-controllers', () => {
  faultTest({ name: 'cut-from-controllers', faults: [cutLeaderFromControllers], controllerProxies: true });
});
