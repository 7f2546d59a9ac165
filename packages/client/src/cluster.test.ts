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
});
