import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';
import { crc32cBytewiseJs, crc32cTableJs } from './crc32c-table.js';

describe('CRC-32C', () => {
  it('gives the standard check value 0xE3069283 for "123456789" in every implementation', () => {
    const check = Buffer.from('123456789', 'ascii');
    expect(crc32c(check)).toBe(0xe3069283);
    expect(crc32cTableJs(check)).toBe(0xe3069283);
    expect(crc32cBytewiseJs(check)).toBe(0xe3069283);
  });

  it('is 0 for no bytes', () => {
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32cTableJs(Buffer.alloc(0))).toBe(0);
  });

  it('native and JS implementations agree on random buffers of every length up to 300, and on views', () => {
    const bytes = randomBytes(300);
    for (let length = 0; length <= bytes.length; length++) {
      const view = bytes.subarray(300 - length);
      expect(crc32c(view)).toBe(crc32cBytewiseJs(view));
      expect(crc32cTableJs(view)).toBe(crc32cBytewiseJs(view));
    }
  });
});
