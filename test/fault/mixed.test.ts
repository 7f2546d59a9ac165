import { describe } from 'vitest';
import { cutLeaderFromControllers, killActiveController, killLeader, oneOf, pauseLeader, wipeFollower } from './faults.js';
import { faultTest } from './scenario.js';

describe('fault: mixed', () => {
  // A seeded mix of the single-fault scenarios, one per round; rolling restarts are left to their own scenario.
  faultTest({ name: 'mixed', faults: [oneOf([killLeader, pauseLeader, cutLeaderFromControllers, killActiveController, wipeFollower])], shortRounds: 3, controllerProxies: true });
});
