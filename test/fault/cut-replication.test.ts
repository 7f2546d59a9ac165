import { cutReplication } from './netns-faults.js';
import { describeNetns, faultTest } from './scenario.js';

// replica.lag.time.max.ms 2 s (default 10 s) so that the ISR shrinks within the 5 s cut.
describeNetns('fault: cut-replication', () => {
  faultTest({ name: 'cut-replication', faults: [cutReplication], network: 'netns', args: ['--replica-lag-time-max-ms', '2000'] });
});
