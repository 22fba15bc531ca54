// The batch message on the wire: `{"v":1,"batch":"<id>","records":[<record JSON>,...]}`.
// One definition for both builders: SQLite assembles whole messages during a drain (the outbox
// hands the uplink the MQTT payload as is), and batchMessage() builds the same bytes in JS.

/** The bytes before the records. Batch ids are ASCII, so its length in bytes is its length. */
export function batchMessageHead(batch: string): string {
  return `{"v":1,"batch":${JSON.stringify(batch)},"records":[`;
}

export const BATCH_MESSAGE_TAIL = ']}';

const TAIL = Buffer.from(BATCH_MESSAGE_TAIL);

/**
 * The batch message built in JS from a batch id and the records' JSON (already joined with
 * commas when given as a Buffer). Same bytes as the messages the outbox assembles.
 */
export function batchMessage(batch: string, body: Buffer | readonly string[]): Buffer {
  const head = Buffer.from(batchMessageHead(batch));
  const inner = Buffer.isBuffer(body) ? body : Buffer.from(body.join(','));
  return Buffer.concat([head, inner, TAIL], head.length + inner.length + TAIL.length);
}
