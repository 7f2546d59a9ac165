import { describe } from 'vitest';
import { netnsSupport } from '@rivulet/testkit';
import { cutLeaderFromControllers, killActiveController, killLeader, oneOf, pauseLeader, wipeFollower, type Fault } from './faults.js';
import {
  clientCutLeader,
  cutReplication,
  isolateActiveControllerFromBrokers,
  isolateActiveControllerFromControllers,
  isolateLeader,
  leaderReceiveOnly,
  leaderSendOnly,
  lossyLeader,
  SLOW_LINK,
  slowLeader,
  splitHalves,
} from './netns-faults.js';
import { faultTest } from './scenario.js';

// A seeded mix of the single-fault scenarios, one per round; rolling restarts are left to their own scenario.
const processFaults: readonly Fault[] = [killLeader, pauseLeader, cutLeaderFromControllers, killActiveController, wipeFollower];
// Where namespaces can be made (root), the network faults join the mix and the cluster runs in netns mode
// (cut-from-controllers then cuts with iptables instead of TcpProxies); elsewhere the mix is what it was, on loopback.
const networkFaults: readonly Fault[] = [
  isolateLeader,
  leaderSendOnly,
  leaderReceiveOnly,
  cutReplication,
  isolateActiveControllerFromControllers,
  isolateActiveControllerFromBrokers,
  lossyLeader(0.25),
  slowLeader(SLOW_LINK),
  clientCutLeader,
  splitHalves,
];
const netns = netnsSupport();
if (!netns.ok) console.warn(`[fault mixed] network faults left out: ${netns.reason}`);

describe(`fault: mixed (${netns.ok ? 'netns, process and network faults' : `loopback, process faults only: ${netns.reason}`})`, () => {
  faultTest(
    netns.ok
      ? { name: 'mixed', faults: [oneOf([...processFaults, ...networkFaults])], shortRounds: 3, network: 'netns' }
      : { name: 'mixed', faults: [oneOf(processFaults)], shortRounds: 3, controllerProxies: true },
  );
});
