import { describe } from 'vitest';
import { wipeFollower } from './faults.js';
import { faultTest } from './scenario.js';

describe('fault: wipe-follower', () => {
  faultTest({ name: 'wipe-follower', faults: [wipeFollower] });
});
