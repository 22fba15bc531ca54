// The JSON Schema (draft 2020-12) editors use to validate config YAML, generated from the zod
// schema so the two cannot disagree. `io: 'input'` describes what a user may write (keys with
// defaults are optional), not the filled-in result.
import { z } from 'zod';
import { configSchema } from './schema.js';

export const CONFIG_SCHEMA_ID = 'urn:tpgw:config';

export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  const { $schema, ...body } = generated;
  return {
    $schema,
    $id: CONFIG_SCHEMA_ID,
    title: 'tpgw gateway configuration',
    description:
      'Configuration of one tpgw teaching-point gateway (YAML). Only gateway.id is required; every key can also be set by a TPGW_<PATH> environment variable with __ between levels (TPGW_CENTER__MQTT__URL).',
    ...body,
  };
}

/** The text checked in as config/config.schema.json. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
