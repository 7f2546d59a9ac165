import { ErrorCode, RivuletError } from '@rivulet/common';
import { controllerApi } from '@rivulet/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerChannel } from './controller-channel.js';
import { GrpcServer, type ServiceHandlers } from './server.js';

const servers: GrpcServer[] = [];
let channel: ControllerChannel | undefined;
afterEach(async () => {
  channel?.close();
  channel = undefined;
  await Promise.all(servers.splice(0).map((s) => s.stop(0)));
});

/** A controller that answers heartbeats as `heartbeat` says and refuses everything else. */
async function startController(heartbeat: () => Promise<controllerApi.BrokerHeartbeatResponse>): Promise<string> {
  const server = new GrpcServer({ host: '127.0.0.1', port: 0, maxReceiveMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20 });
  const refuse = () => Promise.reject(new RivuletError('INVALID_REQUEST', 'not in this test'));
  const handlers = new Proxy({ brokerHeartbeat: heartbeat } as Record<string, unknown>, { get: (target, name: string) => target[name] ?? refuse });
  server.addService(controllerApi.ControllerServiceService, handlers as unknown as ServiceHandlers<typeof controllerApi.ControllerServiceService>);
  servers.push(server);
  return `127.0.0.1:${await server.listen()}`;
}

const heartbeatRequest: controllerApi.BrokerHeartbeatRequest = { brokerId: 1, brokerEpoch: 1, currentMetadataOffset: 0, wantFence: false, wantShutDown: false };

describe('ControllerChannel', () => {
  it('after a call times out on the controller it believed active, the next call goes to another one', async () => {
    let isSilent = false;
    const first = await startController(() => (isSilent ? new Promise(() => undefined) : Promise.resolve({ isFenced: false, shouldShutDown: false, metadataOffset: 3 })));
    let answered = 0;
    const second = await startController(() => {
      answered++;
      return Promise.resolve({ isFenced: false, shouldShutDown: false, metadataOffset: 7 });
    });
    channel = new ControllerChannel({ controllers: [{ id: 1001, address: first }, { id: 1002, address: second }] });
    expect((await channel.brokerHeartbeat(heartbeatRequest, 1000)).metadataOffset).toBe(3);
    expect(channel.leaderId).toBe(1001);
    // 1001 goes silent (frozen, or cut off): the call times out, and may have been applied.
    isSilent = true;
    await expect(channel.brokerHeartbeat(heartbeatRequest, 300)).rejects.toMatchObject({ code: ErrorCode.REQUEST_TIMED_OUT });
    expect(channel.leaderId).toBeNull();
    const response = await channel.brokerHeartbeat(heartbeatRequest, 300);
    expect(response.metadataOffset).toBe(7);
    expect(channel.leaderId).toBe(1002);
    expect(answered).toBe(1);
  });
});
