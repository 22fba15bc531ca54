// Every topic of the MQTT contract (DESIGN.md, sync/contract/asyncapi.yaml) is built here and
// nowhere else, so a rename is one edit and the contract test covers it.
import type { StreamName } from '../types.js';

export interface Topics {
  /** `<prefix>/<gatewayId>` */
  base: string;
  status: string;
  info: string;
  event: string;
  stream(s: StreamName): string;
  ack(s: StreamName): string;
  snapshot(camera: string): string;
  request(name: string): string;
  response(name: string): string;
  /** `<prefix>/<gatewayId>/request/#` */
  requestFilter: string;
  /** The request name carried by a request topic (may contain '/'), or null if it is not one. */
  requestName(topic: string): string | null;
  /** EMQX-compatible file transfer topics (not prefixed: the broker handles `$file/...`). */
  fileInit(fileId: string): string;
  fileSegment(fileId: string, offset: number): string;
  fileFin(fileId: string, size: number): string;
}

function assertLevel(what: string, value: string): void {
  if (value.length === 0 || /[#+/\u0000]/.test(value)) throw new Error(`${what} must be a non-empty topic level without / + # (got ${JSON.stringify(value)})`);
}

export function makeTopics(prefix: string, gatewayId: string): Topics {
  if (prefix.length === 0 || /[#+\u0000]/.test(prefix)) throw new Error(`topic prefix must be non-empty without + # (got ${JSON.stringify(prefix)})`);
  assertLevel('gateway id', gatewayId);
  const base = `${prefix}/${gatewayId}`;
  const requestPrefix = `${base}/request/`;
  return {
    base,
    status: `${base}/status`,
    info: `${base}/info`,
    event: `${base}/event`,
    stream: (s) => `${base}/${s}`,
    ack: (s) => `${base}/${s}/ack`,
    snapshot: (camera) => (assertLevel('camera id', camera), `${base}/snapshot/${camera}`),
    request: (name) => `${requestPrefix}${name}`,
    response: (name) => `${base}/response/${name}`,
    requestFilter: `${base}/request/#`,
    requestName: (topic) => (topic.startsWith(requestPrefix) && topic.length > requestPrefix.length ? topic.slice(requestPrefix.length) : null),
    fileInit: (fileId) => (assertLevel('file id', fileId), `$file/${fileId}/init`),
    fileSegment: (fileId, offset) => (assertLevel('file id', fileId), `$file/${fileId}/${Math.trunc(offset)}`),
    fileFin: (fileId, size) => (assertLevel('file id', fileId), `$file/${fileId}/fin/${Math.trunc(size)}`),
  };
}
