/** Kafka's "no topic id": sixteen zero bytes. */
export const ZERO_UUID = Buffer.alloc(16);

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A topic id as Kafka carries it (16 bytes) from its text form; the zero UUID for none. */
export function topicIdBytes(topicId: string | undefined): Buffer {
  if (topicId === undefined || !UUID_PATTERN.test(topicId)) return ZERO_UUID;
  return Buffer.from(topicId.replace(/-/g, ''), 'hex');
}

/** The text form of a topic id from its 16 bytes; undefined for the zero UUID. */
export function topicIdText(bytes: Buffer): string | undefined {
  if (bytes.length !== 16 || bytes.equals(ZERO_UUID)) return undefined;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
