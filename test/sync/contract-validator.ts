// Validates real MQTT payloads against the AsyncAPI contract with ajv. Shared by the sync tests
// and the end-to-end tests: `const check = contractValidator(); check('ack', payload)`.
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import { payloadSchema } from '../../sync/contract/payload-schemas.js';

export type ContractCheck = (message: string, payload: unknown) => string[];

/** Returns a checker: [] when the payload (object, JSON string or Buffer) is valid, else the errors. */
export function contractValidator(): ContractCheck {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const compiled = new Map<string, ValidateFunction>();
  return (message, payload) => {
    let fn = compiled.get(message);
    if (!fn) {
      fn = ajv.compile(payloadSchema(message));
      compiled.set(message, fn);
    }
    let data = payload;
    if (Buffer.isBuffer(data)) data = data.toString();
    if (typeof data === 'string') {
      try {
        data = JSON.parse(data);
      } catch {
        return ['payload is not JSON'];
      }
    }
    return fn(data) ? [] : (fn.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}`.trim());
  };
}
