// Public surface of config/: the schema and its types, loading, redaction, the JSON Schema.
export { configSchema, gatewayIdSchema, type Config, type ConfigInput } from './schema.js';
export * from './clocks.js';
export * from './cameras.js';
export { loadConfig, loadConfigText, type LoadOptions, type LoadResult } from './load.js';
export { NON_CONFIG_ENV, ENV_PREFIX } from './env-overrides.js';
export { redactConfig, redactUrl, REDACTED, type RedactedConfig } from './redact.js';
export { configJsonSchema, configJsonSchemaText, CONFIG_SCHEMA_ID } from './json-schema.js';
export { canonicalJson, configHash } from './config-hash.js';
export { formatPath } from './format-path.js';
