import { SLOW_LINK, slowLeader } from './netns-faults.js';
import { describeNetns, faultTest } from './scenario.js';

// A seeded partition's leader gets a slow link (token bucket each way, no netem in this kernel).
// replica.lag.time.max.ms 2 s (default 10 s) so that lagging followers can leave the ISR within the 5 s fault.
describeNetns('fault: slow-leader', () => {
  faultTest({ name: 'slow-leader', faults: [slowLeader(SLOW_LINK)], network: 'netns', args: ['--replica-lag-time-max-ms', '2000'] });
});
