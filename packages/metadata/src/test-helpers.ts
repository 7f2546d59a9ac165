/** Builders shared by the tests of this package. */
import { applyRecords, EMPTY_IMAGE } from './image.js';
import type { MetadataImage } from './image.js';
import type { MetadataRecord } from './records.js';

/** Applies records at increasing offsets. */
export function apply(image: MetadataImage, records: readonly MetadataRecord[]): MetadataImage {
  let next = image;
  for (const r of records) next = applyRecords(next, [r], next.offset + 1);
  return next;
}

/** An image with unfenced brokers 1..n (epoch = 100 + id), optionally with racks. */
export function clusterImage(n: number, racks?: readonly string[]): MetadataImage {
  const records: MetadataRecord[] = [];
  for (let id = 1; id <= n; id++) {
    records.push({
      type: 'RegisterBroker',
      brokerId: id,
      incarnationId: `inc-${id}`,
      brokerEpoch: 100 + id,
      endpoints: [{ name: 'INTERNAL', host: `b${id}`, port: 9000 + id }],
      rack: racks ? racks[(id - 1) % racks.length]! : null,
    });
    records.push({ type: 'UnfenceBroker', brokerId: id, brokerEpoch: 100 + id });
  }
  return apply(EMPTY_IMAGE, records);
}
