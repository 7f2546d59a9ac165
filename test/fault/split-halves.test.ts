import { splitHalves } from './netns-faults.js';
import { describeNetns, faultTest } from './scenario.js';

// The network splits into {a controller, a broker} | {two controllers, two brokers} (seeded), both ways; the clients reach both sides.
describeNetns('fault: split-halves', () => {
  faultTest({ name: 'split-halves', faults: [splitHalves], network: 'netns' });
});
