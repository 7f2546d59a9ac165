import { RivuletError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { checkTopicConfigConsistency, describeTopicConfig, isCompacted, logRetentionOf, resolveTopicConfig, validateTopicConfigs } from './topic-config.js';

const defaults = { retentionMs: 604_800_000, retentionBytes: -1, messageMaxBytes: 1_048_588 };

function refusal(configs: Record<string, string>): string {
  try {
    validateTopicConfigs(configs);
  } catch (error) {
    expect(error).toBeInstanceOf(RivuletError);
    expect((error as RivuletError).errorName).toBe('INVALID_CONFIG');
    return (error as Error).message;
  }
  throw new Error(`${JSON.stringify(configs)} was accepted`);
}

describe('topic configs: compaction', () => {
  it('defaults to Kafka\'s values and describes them under Kafka\'s names', () => {
    const config = resolveTopicConfig({}, defaults);
    expect(config).toMatchObject({ cleanupPolicy: 'delete', minCleanableDirtyRatio: 0.5, minCompactionLagMs: 0, maxCompactionLagMs: Number.MAX_SAFE_INTEGER, deleteRetentionMs: 86_400_000 });
    expect(describeTopicConfig(config)).toMatchObject({
      'cleanup.policy': 'delete',
      'min.cleanable.dirty.ratio': '0.5',
      'min.compaction.lag.ms': '0',
      'max.compaction.lag.ms': '9223372036854775807',
      'delete.retention.ms': '86400000',
    });
  });

  it('accepts every cleanup.policy Kafka does, in any order, as one of three policies', () => {
    const policy = (value: string) => resolveTopicConfig({ 'cleanup.policy': value }, defaults).cleanupPolicy;
    expect(policy('delete')).toBe('delete');
    expect(policy('compact')).toBe('compact');
    expect(policy('compact,delete')).toBe('compact,delete');
    expect(policy('delete,compact')).toBe('compact,delete');
    expect(policy(' compact , delete ')).toBe('compact,delete');
    expect(describeTopicConfig(resolveTopicConfig({ 'cleanup.policy': 'delete,compact' }, defaults))['cleanup.policy']).toBe('compact,delete');
    expect(isCompacted('compact')).toBe(true);
    expect(isCompacted('compact,delete')).toBe(true);
    expect(isCompacted('delete')).toBe(false);
  });

  it('refuses bad values with a message naming the key and the rule', () => {
    expect(refusal({ 'cleanup.policy': 'archive' })).toMatch(/cleanup\.policy: a list of delete and compact/);
    expect(refusal({ 'cleanup.policy': '' })).toMatch(/cleanup\.policy/);
    expect(refusal({ 'cleanup.policy': 'compact,' })).toMatch(/cleanup\.policy/);
    expect(refusal({ 'min.cleanable.dirty.ratio': '1.5' })).toMatch(/min\.cleanable\.dirty\.ratio: must be between 0 and 1/);
    expect(refusal({ 'min.cleanable.dirty.ratio': '-0.1' })).toMatch(/between 0 and 1/);
    expect(refusal({ 'min.cleanable.dirty.ratio': 'half' })).toMatch(/not a number/);
    expect(refusal({ 'min.compaction.lag.ms': '-1' })).toMatch(/min\.compaction\.lag\.ms: must be >= 0/);
    expect(refusal({ 'max.compaction.lag.ms': '0' })).toMatch(/max\.compaction\.lag\.ms: must be >= 1/);
    expect(refusal({ 'max.compaction.lag.ms': '9223372036854775808' })).toMatch(/at most 9223372036854775807/);
    expect(refusal({ 'delete.retention.ms': '1.5' })).toMatch(/delete\.retention\.ms: not an integer/);
    expect(refusal({ 'delete.retention.ms': '' })).toMatch(/not an integer/);
  });

  it('takes Java longs up to Long.MAX_VALUE, holding the far end as "never"', () => {
    const config = resolveTopicConfig({ 'max.compaction.lag.ms': '9223372036854775807', 'delete.retention.ms': '3600000', 'min.compaction.lag.ms': '60000', 'min.cleanable.dirty.ratio': '0.1' }, defaults);
    expect(config).toMatchObject({ maxCompactionLagMs: Number.MAX_SAFE_INTEGER, deleteRetentionMs: 3_600_000, minCompactionLagMs: 60_000, minCleanableDirtyRatio: 0.1 });
    expect(describeTopicConfig(config)).toMatchObject({ 'max.compaction.lag.ms': '9223372036854775807', 'delete.retention.ms': '3600000', 'min.cleanable.dirty.ratio': '0.1' });
    expect(resolveTopicConfig({ 'max.compaction.lag.ms': '604800000' }, defaults).maxCompactionLagMs).toBe(604_800_000);
  });

  it('refuses min.compaction.lag.ms above max.compaction.lag.ms, and min.insync.replicas above the replication factor', () => {
    const check = (configs: Record<string, string>, replicationFactor = 3) => () => checkTopicConfigConsistency(resolveTopicConfig(configs, defaults, replicationFactor), replicationFactor, 't');
    expect(check({ 'min.compaction.lag.ms': '5000', 'max.compaction.lag.ms': '1000' })).toThrow(/min\.compaction\.lag\.ms 5000 is larger than max\.compaction\.lag\.ms 1000/);
    expect(check({ 'min.compaction.lag.ms': '1000', 'max.compaction.lag.ms': '1000' })).not.toThrow();
    expect(check({ 'min.insync.replicas': '3' }, 2)).toThrow(/min\.insync\.replicas 3 is larger than the replication factor 2/);
    expect(check({})).not.toThrow();
  });

  it('gives the log retention only when the policy includes delete', () => {
    const retention = { 'retention.ms': '1000', 'retention.bytes': '2048' };
    expect(logRetentionOf(resolveTopicConfig({ ...retention, 'cleanup.policy': 'delete' }, defaults))).toEqual({ retentionMs: 1000, retentionBytes: 2048 });
    expect(logRetentionOf(resolveTopicConfig({ ...retention, 'cleanup.policy': 'compact,delete' }, defaults))).toEqual({ retentionMs: 1000, retentionBytes: 2048 });
    expect(logRetentionOf(resolveTopicConfig({ ...retention, 'cleanup.policy': 'compact' }, defaults))).toEqual({ retentionMs: -1, retentionBytes: -1 });
  });
});
