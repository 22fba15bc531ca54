// `npm run schema`: regenerates config/config.schema.json from the zod schema. A test fails when
// the checked-in file is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configJsonSchemaText } from './json-schema.js';

const CONFIG_SCHEMA_FILE = fileURLToPath(new URL('./config.schema.json', import.meta.url));

writeFileSync(CONFIG_SCHEMA_FILE, configJsonSchemaText());
console.log(`wrote ${CONFIG_SCHEMA_FILE}`);
