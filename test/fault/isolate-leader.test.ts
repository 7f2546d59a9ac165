import { isolateLeader } from './netns-faults.js';
import { describeNetns, faultTest } from './scenario.js';

describeNetns('fault: isolate-leader', () => {
  faultTest({ name: 'isolate-leader', faults: [isolateLeader], network: 'netns' });
});
