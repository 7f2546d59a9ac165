import { RivuletError, assert } from '@rivulet/common';
import type { BidiHandler } from './server.js';

/**
 * The server half of StreamCalls: a bidirectional stream of requests, each answered by one
 * message, in the order the requests arrived. Each request starts as it arrives (so work the
 * handler queues per partition keeps the requests' order) and its answer goes out once it and
 * every earlier one are done. At most `maxInFlight` requests are worked on at once; at the
 * bound the stream is read no further until every answer so far is out, so HTTP/2 flow
 * control holds the client back.
 *
 * A request that fails with a RivuletError is answered with `answerError(err)` and the stream
 * goes on; any other failure is a bug and ends the stream with it.
 */
export function answerInOrder<Req, Res>(handle: (request: Req) => Promise<Res>, answerError: (err: RivuletError) => Res, maxInFlight: number): BidiHandler<Req, Res> {
  assert(maxInFlight >= 1, 'a stream works on at least one request at a time');
  return async (requests, write) => {
    let writing = Promise.resolve();
    let inFlight = 0;
    for await (const request of requests) {
      const answer = handle(request).catch((err: unknown) => {
        if (!(err instanceof RivuletError)) throw err;
        return answerError(err);
      });
      inFlight++;
      writing = writing.then(async () => {
        await write(await answer);
        inFlight--;
      });
      if (inFlight >= maxInFlight) await writing;
    }
    await writing;
  };
}
