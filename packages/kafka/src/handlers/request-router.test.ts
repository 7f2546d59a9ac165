import { describe, expect, it } from 'vitest';
import { allCompiledApis } from '../schema/api-registry.js';
import { inRange } from '../schema/field.js';
import { throughWire } from '../testing/group-harness.js';
import { unsupportedVersionResponse } from './request-router.js';

describe('versions decoded but not served', () => {
  it('the newest decoded version of every API is served: clients pick the newest version both sides know', () => {
    const unserved = allCompiledApis().filter((api) => !inRange(api.spec.servedVersions, api.maxVersion)).map((api) => api.spec.name);
    expect(unserved).toEqual([]);
  });

  for (const api of allCompiledApis()) {
    for (let version = api.minVersion; version <= api.maxVersion; version++) {
      if (inRange(api.spec.servedVersions, version)) continue;
      it(`${api.spec.name} v${version} has an UNSUPPORTED_VERSION answer in its own response shape`, () => {
        // acks -1 so that Produce answers at all; other APIs have no such field.
        const request = throughWire(api.requests[version]!, { acks: -1 });
        const response = unsupportedVersionResponse(api.spec.apiKey, request, version);
        expect(response).not.toBeNull();
        expect(() => throughWire(api.responses[version]!, response!)).not.toThrow();
      });
    }
  }
});
