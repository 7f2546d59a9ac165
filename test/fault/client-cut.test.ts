import { clientCutLeader } from './netns-faults.js';
import { describeNetns, faultTest } from './scenario.js';

// The clients (the test process, on the host) cut from a seeded partition's leader; brokers and controllers still reach it.
describeNetns('fault: client-cut', () => {
  faultTest({ name: 'client-cut', faults: [clientCutLeader], network: 'netns' });
});
