import { leaderReceiveOnly, leaderSendOnly } from './netns-faults.js';
import { describeNetns, faultTest } from './scenario.js';

// One round: the leader first sends but receives nothing, then (another seeded leader) receives but sends nothing.
describeNetns('fault: one-way-leader', () => {
  faultTest({ name: 'one-way-leader', faults: [leaderSendOnly, leaderReceiveOnly], shortRounds: 1, network: 'netns' });
});
