import { isolateActiveControllerFromControllers } from './netns-faults.js';
import { describeNetns, faultTest } from './scenario.js';

describeNetns('fault: isolate-active-controller', () => {
  faultTest({ name: 'isolate-active-controller', faults: [isolateActiveControllerFromControllers], network: 'netns' });
});
