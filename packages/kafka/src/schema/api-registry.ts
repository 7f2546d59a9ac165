import { API_TABLE, ApiKey, type ApiSpec } from './api-table.js';
import { compileMessage, type CompiledStruct } from './codec.js';
import { inRange } from './field.js';

/**
 * One API's compiled codecs, indexed by version. Built once from the table when this module
 * loads, so decoding a request never looks at the table again.
 */
export interface CompiledApi {
  readonly spec: ApiSpec;
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly requests: readonly CompiledStruct[];
  readonly responses: readonly CompiledStruct[];
}

function compileApi(spec: ApiSpec): CompiledApi {
  const requests: CompiledStruct[] = [];
  const responses: CompiledStruct[] = [];
  for (let version = spec.versions.min; version <= spec.versions.max; version++) {
    const isFlexible = inRange(spec.flexibleVersions, version);
    requests[version] = compileMessage(spec.request, version, isFlexible);
    responses[version] = compileMessage(spec.response, version, isFlexible);
  }
  return { spec, minVersion: spec.versions.min, maxVersion: spec.versions.max, requests, responses };
}

const compiled = new Map<number, CompiledApi>(API_TABLE.map((spec) => [spec.apiKey, compileApi(spec)]));

export function compiledApi(apiKey: number): CompiledApi | undefined {
  return compiled.get(apiKey);
}

export function allCompiledApis(): readonly CompiledApi[] {
  return [...compiled.values()];
}

export function isFlexibleVersion(api: CompiledApi, version: number): boolean {
  return inRange(api.spec.flexibleVersions, version);
}

/** Request header v2 (tagged fields) for flexible versions, v1 otherwise. */
export function requestHeaderVersion(api: CompiledApi, version: number): 1 | 2 {
  return isFlexibleVersion(api, version) ? 2 : 1;
}

/**
 * Response header v1 (tagged fields) for flexible versions, v0 otherwise. ApiVersions always
 * answers with v0, because a client reads the answer before it knows which versions we speak.
 */
export function responseHeaderVersion(api: CompiledApi, version: number): 0 | 1 {
  if (api.spec.apiKey === ApiKey.ApiVersions) return 0;
  return isFlexibleVersion(api, version) ? 1 : 0;
}
