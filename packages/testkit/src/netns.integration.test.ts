import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { NetnsNetwork, netnsSupport } from './netns.js';

const support = netnsSupport();

function namespacesStartingWith(prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((ns) => ns.startsWith(prefix));
}

describe.skipIf(!support.ok)(support.ok ? 'NetnsNetwork faults' : `NetnsNetwork faults (skipped: ${support.reason})`, () => {
  let net: NetnsNetwork | undefined;
  afterEach(async () => {
    await net?.destroy();
  });

  it('loss, rate limits and host cuts go away on heal, the namespaces on destroy', async () => {
    net = await NetnsNetwork.create([1, 2]);
    await net.lossy(1, 0.25);
    await net.shape(1, { rateKbit: 256, burstBytes: 16_000, latencyMs: 300 });
    await net.cutHost(2);

    const faulty1 = await net.rules(1);
    expect(faulty1).toMatch(/-A INPUT -i eth0 -m statistic --mode random --probability 0.25\d* -j DROP/);
    expect(faulty1).toMatch(/-A OUTPUT -o eth0 -m statistic --mode random --probability 0.25\d* -j DROP/);
    // Both ends of the veth: eth0 in the node's namespace, its bridge port in the hub.
    expect(faulty1.match(/qdisc tbf .* rate 256Kbit/g)).toHaveLength(2);
    const faulty2 = await net.rules(2);
    expect(faulty2).toContain(`-A INPUT -s ${net.hostAddress}/32 -j DROP`);
    expect(faulty2).toContain(`-A OUTPUT -d ${net.hostAddress}/32 -j DROP`);

    await net.heal(1);
    expect(await net.rules(1)).not.toMatch(/DROP|tbf/);
    expect(await net.rules(2)).toContain('DROP'); // heal(1) leaves node 2 alone
    await net.heal();
    expect(await net.rules(2)).not.toMatch(/DROP|tbf/);
    await net.heal(); // nothing left to remove is no error

    await net.shape(2, { rateKbit: 64, burstBytes: 4000, latencyMs: 100 });
    await net.destroy();
    expect(namespacesStartingWith(net.prefix)).toEqual([]);
  });

  it('rejects a loss probability outside (0, 1)', async () => {
    net = await NetnsNetwork.create([1]);
    await expect(net.lossy(1, 1)).rejects.toThrow(/not in \(0, 1\)/);
    await expect(net.lossy(1, 0)).rejects.toThrow(/not in \(0, 1\)/);
  });
});
