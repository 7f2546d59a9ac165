import { isolateActiveControllerFromBrokers } from './netns-faults.js';
import { describeNetns, faultTest } from './scenario.js';

// The reverse of isolate-active-controller: the active controller still reaches its peers (and keeps its quorum) but no broker reaches it.
describeNetns('fault: active-controller-from-brokers', () => {
  faultTest({ name: 'active-controller-from-brokers', faults: [isolateActiveControllerFromBrokers], network: 'netns' });
});
