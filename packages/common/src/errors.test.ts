import { describe, expect, it } from 'vitest';
import { ErrorCode, RivuletError, StorageError, errorInfo } from './errors.js';

describe('error table', () => {
  it('uses Kafka protocol codes', () => {
    expect(ErrorCode.NONE).toBe(0);
    expect(ErrorCode.OFFSET_OUT_OF_RANGE).toBe(1);
    expect(ErrorCode.CORRUPT_MESSAGE).toBe(2);
    expect(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).toBe(3);
    expect(ErrorCode.NOT_LEADER_OR_FOLLOWER).toBe(6);
    expect(ErrorCode.NOT_ENOUGH_REPLICAS).toBe(19);
    expect(ErrorCode.UNSUPPORTED_VERSION).toBe(35);
    expect(ErrorCode.FENCED_LEADER_EPOCH).toBe(74);
  });

  it('has one name per code', () => {
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('round-trips name, code and class', () => {
    for (const [name, code] of Object.entries(ErrorCode)) {
      const info = errorInfo(code);
      expect(info.name).toBe(name);
      const err = RivuletError.fromCode(code);
      expect(err.code).toBe(code);
      expect(err.retriable).toBe(info.retriable);
    }
  });

  it('keeps an unknown code from a newer peer', () => {
    const err = RivuletError.fromCode(9999, 'from the future');
    expect(err.code).toBe(9999);
    expect(err.retriable).toBe(false);
    expect(err.message).toBe('from the future');
  });

  it('marks storage errors with KAFKA_STORAGE_ERROR and keeps the cause', () => {
    const cause = new Error('disk gone');
    const err = new StorageError('append failed', { topic: 't', partition: 1 }, { cause });
    expect(err.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(err.cause).toBe(cause);
    expect(err.context.partition).toBe(1);
    expect(err).toBeInstanceOf(RivuletError);
  });
});
