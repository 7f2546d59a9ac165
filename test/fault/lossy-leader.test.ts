import { lossyLeader } from './netns-faults.js';
import { describeNetns, faultTest } from './scenario.js';

// One round: a seeded partition's leader loses 25% of its packets each way (TCP still works,
// slowly), then another seeded leader loses 50% (TCP mostly waits on retransmission backoff).
describeNetns('fault: lossy-leader', () => {
  faultTest({ name: 'lossy-leader', faults: [lossyLeader(0.25), lossyLeader(0.5)], shortRounds: 1, network: 'netns' });
});
