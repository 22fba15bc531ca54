// Reads the JSON Schemas of the MQTT payloads out of asyncapi.yaml, so tests validate what the
// code really sends against the published contract (one source of truth, no copied schemas).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** asyncapi.yaml next to this file (tsx) or in the source tree (when running from dist/). */
export function asyncApiPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'asyncapi.yaml'), join(here, '..', '..', '..', 'sync', 'contract', 'asyncapi.yaml')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`asyncapi.yaml not found (looked in ${candidates.join(', ')})`);
  return found;
}

let cached: { [k: string]: Json } | null = null;

export function loadAsyncApi(): { [k: string]: Json } {
  cached ??= parse(readFileSync(asyncApiPath(), 'utf8')) as { [k: string]: Json };
  return cached;
}

function pointer(doc: Json, ref: string): Json {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported, got ${ref}`);
  let node: Json = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !(key in node)) throw new Error(`unresolved $ref ${ref}`);
    node = node[key];
  }
  return node;
}

/** Inlines every local $ref (the contract's schemas are not recursive). */
function deref(doc: Json, node: Json, depth = 0): Json {
  if (depth > 50) throw new Error('schema $ref nesting too deep');
  if (Array.isArray(node)) return node.map((n) => deref(doc, n, depth + 1));
  if (node === null || typeof node !== 'object') return node;
  if (typeof node.$ref === 'string') return deref(doc, pointer(doc, node.$ref), depth + 1);
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(node)) out[k] = deref(doc, v, depth + 1);
  return out;
}

/** Names of the messages in components.messages (status, attendanceBatch, ack, request, ...). */
export function messageNames(): string[] {
  const messages = (loadAsyncApi().components as { messages: Record<string, Json> }).messages;
  return Object.keys(messages);
}

/** The self-contained JSON Schema of a message's payload, e.g. payloadSchema('attendanceBatch'). */
export function payloadSchema(message: string): Record<string, unknown> {
  const doc = loadAsyncApi();
  const messages = (doc.components as { messages: Record<string, { payload?: Json }> }).messages;
  const m = messages[message];
  if (!m || m.payload === undefined) throw new Error(`no message "${message}" in the AsyncAPI contract`);
  return deref(doc, m.payload) as Record<string, unknown>;
}
