import { connect } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, RivuletError } from '@rivulet/common';
import { Metadata, status } from '@grpc/grpc-js';
import { GrpcServer } from './server.js';
import { ERROR_CODE_TRAILER, fromServiceError, toStatus } from './status.js';

let server: GrpcServer | undefined;
afterEach(async () => {
  await server?.stop(0);
  server = undefined;
});

describe('GrpcServer', () => {
  it('advertises wide HTTP/2 receive windows, so large produce requests do not stall', async () => {
    server = new GrpcServer({ host: '127.0.0.1', port: 0, maxReceiveMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20, streamWindowBytes: 2 << 20 });
    const port = await server.listen();
    const session = connect(`http://127.0.0.1:${port}`);
    try {
      const settings = await new Promise<{ initialWindowSize?: number }>((resolve) => session.once('remoteSettings', resolve));
      expect(settings.initialWindowSize).toBe(2 << 20);
    } finally {
      session.close();
    }
  });
});

describe('error mapping', () => {
  it('round-trips a Rivulet error through a gRPC status', () => {
    const original = new RivuletError('INVALID_REQUEST', 'bad bytes');
    const sent = toStatus(original);
    expect(sent.code).toBe(status.INVALID_ARGUMENT);
    const received = fromServiceError(Object.assign(new Error(sent.details), sent));
    expect(received.code).toBe(ErrorCode.INVALID_REQUEST);
    expect(received.message).toBe('bad bytes');
  });

  it('hides the details of bugs and maps transport failures to retriable errors', () => {
    expect(toStatus(new TypeError('oops')).details).toBe('internal error');
    const unavailable = fromServiceError(Object.assign(new Error('down'), { code: status.UNAVAILABLE, details: 'connection refused', metadata: new Metadata() }));
    expect(unavailable.code).toBe(ErrorCode.NETWORK_EXCEPTION);
    expect(unavailable.retriable).toBe(true);
    const trailer = new Metadata();
    trailer.set(ERROR_CODE_TRAILER, String(ErrorCode.NOT_LEADER_OR_FOLLOWER));
    expect(fromServiceError(Object.assign(new Error('x'), { code: status.FAILED_PRECONDITION, details: 'NOT_LEADER_OR_FOLLOWER: moved', metadata: trailer })).refreshMetadata).toBe(true);
  });
});
