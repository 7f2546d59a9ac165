import { noopLogger, RivuletError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { Cluster, parseBootstrap } from './cluster.js';
import { FakeCluster } from './fake-broker.js';
import type { BrokerTransport, TransportFactory } from './transport.js';

function cluster(factory: TransportFactory, bootstrap: string[]): Cluster {
  return new Cluster({
    bootstrap,
    transportFactory: factory,
    requestTimeoutMs: 1000,
    retryBackoff: { initialMs: 1, maxMs: 2 },
    metadataMaxAgeMs: 60_000,
    unknownTopicAttempts: 3,
    allowAutoTopicCreation: true,
    logger: noopLogger,
  });
}

/** Transports to `fake` that record where metadata was asked, failing it where `isDown` says. */
function recordingMetadata(fake: FakeCluster, asked: string[], isDown: (address: string) => boolean = () => false): TransportFactory {
  const real = fake.transportFactory();
  return (address) => {
    const transport = real(address);
    return {
      ...transport,
      address,
      getMetadata: (request: never, timeoutMs: number) => {
        asked.push(address);
        if (isDown(address)) return Promise.reject(new RivuletError('NETWORK_EXCEPTION', 'timed out'));
        return transport.getMetadata(request, timeoutMs);
      },
      close: () => transport.close(),
    } as unknown as BrokerTransport;
  };
}

describe('Cluster', () => {
  it('parses bootstrap lists', () => {
    expect(parseBootstrap(' a:1, b:2 ,')).toEqual(['a:1', 'b:2']);
    expect(parseBootstrap(['a:1'])).toEqual(['a:1']);
  });

  it('falls over to the next bootstrap address when one is unreachable', async () => {
    const fake = new FakeCluster(1);
    fake.createTopic('t', 2);
    const real = fake.transportFactory();
    const dialed: string[] = [];
    const factory: TransportFactory = (address) => {
      dialed.push(address);
      if (address === 'down:1') {
        return { address, getMetadata: () => Promise.reject(new RivuletError('NETWORK_EXCEPTION', 'refused')), close: () => {} } as unknown as BrokerTransport;
      }
      return real(address);
    };
    const c = cluster(factory, ['down:1', fake.addressOf(1)]);
    await c.refreshMetadata(['t']);
    expect(c.topic('t')?.partitions).toHaveLength(2);
    expect(c.leaderOf('t', 1)).toBe(1);
    expect(dialed).toEqual(['down:1', fake.addressOf(1)]);
    // The unreachable bootstrap address is kept for later lookups; the broker's own address is used.
    expect(c.connectionFor(1)?.address).toBe(fake.addressOf(1));
    c.close();
  });

  it('asks the broker that answered last first, not again the one that failed', async () => {
    const fake = new FakeCluster(2);
    fake.createTopic('t', 2);
    let firstDown = false;
    const asked: string[] = [];
    const c = cluster(recordingMetadata(fake, asked, (address) => firstDown && address === fake.addressOf(1)), [fake.addressOf(1), fake.addressOf(2)]);
    await c.refreshMetadata(['t']);
    firstDown = true;
    await c.refreshMetadata(['t']);
    await c.refreshMetadata(['t']);
    await c.refreshMetadata(['t']);
    // Broker 1 is asked once after it went down; the refreshes after that start at broker 2.
    expect(asked.filter((a) => a === fake.addressOf(1))).toHaveLength(2);
    expect(asked.slice(-2)).toEqual([fake.addressOf(2), fake.addressOf(2)]);
    c.close();
  });

  it('asks a broker that failed a produce last for metadata, until it answers again', async () => {
    const fake = new FakeCluster(2);
    fake.createTopic('t', 2);
    const asked: string[] = [];
    const c = cluster(recordingMetadata(fake, asked), [fake.addressOf(1), fake.addressOf(2)]);
    await c.refreshMetadata(['t']);
    await c.refreshMetadata(['t']);
    expect(asked).toEqual([fake.addressOf(1), fake.addressOf(1)]);
    // Broker 1 answered a produce with NOT_LEADER_OR_FOLLOWER (or timed out): its metadata may be stale.
    c.noteBrokerTrouble(1);
    await c.refreshMetadata(['t']);
    await c.refreshMetadata(['t']);
    expect(asked.slice(2)).toEqual([fake.addressOf(2), fake.addressOf(2)]);
    c.noteBrokerAnswered(1);
    c.noteBrokerTrouble(2);
    await c.refreshMetadata(['t']);
    expect(asked.at(-1)).toBe(fake.addressOf(1));
    c.close();
  });

  it('stops waiting for metadata from a broker that fails another request meanwhile, and asks the next one', async () => {
    const fake = new FakeCluster(2);
    fake.createTopic('t', 2);
    const c = cluster(fake.transportFactory(), [fake.addressOf(1), fake.addressOf(2)]);
    await c.refreshMetadata(['t']);
    // Broker 1, which answered last, goes silent: its metadata answers take longer than the timeout.
    fake.metadataHook = async (nodeId) => (nodeId === 1 ? (await new Promise((resolve) => setTimeout(resolve, 1_000)), new RivuletError('REQUEST_TIMED_OUT', 'no answer')) : undefined);
    fake.partition('t', 0).leaderId = 2;
    const startedMs = Date.now();
    const refreshed = c.refreshMetadata(['t']);
    // A produce to broker 1 times out while the refresh waits on it.
    setTimeout(() => c.noteBrokerTrouble(1), 50);
    await refreshed;
    expect(Date.now() - startedMs).toBeLessThan(800);
    expect(c.leaderOf('t', 0)).toBe(2);
    c.close();
  });

  it('sends requests to the broker that answered the last one while it answers (read-your-writes), then moves on', async () => {
    const fake = new FakeCluster(3);
    fake.createTopic('t', 3);
    const c = cluster(fake.transportFactory(), [fake.addressOf(1)]);
    await c.refreshMetadata(['t']);
    const used: string[] = [];
    const ask = (fail = false) =>
      c.withAnyBroker((connection) => {
        used.push(connection.address);
        return fail ? Promise.reject(new RivuletError('NETWORK_EXCEPTION', 'cut')) : Promise.resolve(connection.address);
      }, 1);
    const first = await ask();
    expect(await ask()).toBe(first);
    expect(await ask()).toBe(first);
    await expect(ask(true)).rejects.toMatchObject({ errorName: 'NETWORK_EXCEPTION' });
    const next = await ask();
    expect(next).not.toBe(first);
    expect(await ask()).toBe(next);
    expect(used).toHaveLength(6);
    c.close();
  });

  it('coalesces refreshes asked for while one is in flight into a single follow-up', async () => {
    const fake = new FakeCluster(1);
    fake.createTopic('a', 1);
    fake.createTopic('b', 1);
    const c = cluster(fake.transportFactory(), [fake.addressOf(1)]);
    await Promise.all([c.refreshMetadata(['a']), c.refreshMetadata(['b']), c.refreshMetadata(['a']), c.refreshMetadata()]);
    expect(fake.metadataRequests).toBe(2);
    expect(c.topic('a')).toBeDefined();
    expect(c.topic('b')).toBeDefined();
    c.close();
  });

  it('waitForTopic fails fast on a topic the brokers do not know', async () => {
    const fake = new FakeCluster(1);
    const c = cluster(fake.transportFactory(), [fake.addressOf(1)]);
    await expect(c.waitForTopic('missing', 10_000)).rejects.toMatchObject({ errorName: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(fake.metadataRequests).toBe(3);
    c.close();
  });

  it('tells metadata listeners of every applied response until they stop listening', async () => {
    const fake = new FakeCluster(2);
    fake.createTopic('t', 1);
    const c = cluster(fake.transportFactory(), [fake.addressOf(1)]);
    const leaders: (number | undefined)[] = [];
    const stop = c.onMetadataUpdate(() => leaders.push(c.leaderOf('t', 0)));
    await c.refreshMetadata(['t']);
    fake.partition('t', 0).leaderId = 2;
    await c.refreshMetadata(['t']);
    stop();
    await c.refreshMetadata(['t']);
    expect(leaders).toEqual([1, 2]);
    c.close();
  });
});
