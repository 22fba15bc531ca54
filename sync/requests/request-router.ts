// Answers requests from the center: `<prefix>/<G>/request/<name>` -> `<prefix>/<G>/response/<name>`
// with the request's transaction echoed. Unknown names, malformed payloads and handlers that
// throw all produce `status: "error"` responses; nothing here can take the service down.
//
// The router wires itself on construction: it subscribes to `<prefix>/<G>/request/#` and listens
// to the link. handle() is public for callers that route messages themselves; a message already
// handled (the same payload Buffer from the same MQTT delivery) is not answered twice.
import type { RequestHandler } from '../types.js';
import type { MqttLink } from '../mqtt/link.js';
import type { Topics } from '../mqtt/topics.js';
import { silentLogger, type SyncLogger } from '../logger.js';
import { parseRequest, type Transaction } from './request-parser.js';

export interface OkResponse {
  v: 1;
  transaction?: Transaction;
  status: 'ok';
  data: unknown;
}
export interface ErrorResponse {
  v: 1;
  transaction?: Transaction;
  status: 'error';
  error: string;
}
export type RequestResponse = OkResponse | ErrorResponse;

const NAME_RE = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;

export class RequestRouter {
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly seen = new WeakSet<Buffer>();
  private readonly log: SyncLogger;
  private readonly onMessage = (topic: string, payload: Buffer) => {
    if (this.topics.requestName(topic) !== null) void this.handle(topic, payload);
  };

  constructor(
    private readonly link: MqttLink,
    private readonly topics: Topics,
    logger?: SyncLogger,
  ) {
    this.log = logger ?? silentLogger;
    link.subscribe(topics.requestFilter);
    link.on('message', this.onMessage);
  }

  /** Registers `name` (may contain '/', e.g. "sync/status"). Replaces an earlier handler. */
  register(name: string, handler: RequestHandler): void {
    if (!NAME_RE.test(name)) throw new Error(`invalid request name ${JSON.stringify(name)}`);
    this.handlers.set(name, handler);
  }

  names(): string[] {
    return [...this.handlers.keys()].sort();
  }

  /** Stops listening (the subscription ends with the connection). */
  close(): void {
    this.link.off('message', this.onMessage);
  }

  /**
   * Handles one request message and publishes the response. Resolves with the response sent
   * (undefined when the topic is not a request topic or the message was already handled).
   */
  async handle(topic: string, payload: Buffer): Promise<RequestResponse | undefined> {
    const name = this.topics.requestName(topic);
    if (name === null) return undefined;
    if (Buffer.isBuffer(payload)) {
      if (this.seen.has(payload)) return undefined;
      this.seen.add(payload);
    }
    const response = await this.answer(name, payload);
    // A request on a name we would not use as a topic gets no response topic of its own.
    const replyName = NAME_RE.test(name) ? name : 'invalid';
    try {
      await this.link.publish(this.topics.response(replyName), JSON.stringify(response), { qos: 1, retain: false });
    } catch (err) {
      this.log.warn({ request: replyName, err: (err as Error).message }, 'request: response not published');
    }
    return response;
  }

  private async answer(name: string, payload: Buffer): Promise<RequestResponse> {
    const req = parseRequest(payload);
    const tx = req.transaction === undefined ? {} : { transaction: req.transaction };
    const fail = (error: string): ErrorResponse => {
      this.log.warn({ request: name, error }, 'request: rejected');
      return { v: 1, ...tx, status: 'error', error };
    };
    if (!req.ok) return fail(req.error);
    const handler = this.handlers.get(name);
    if (!handler) return fail(`unknown request "${name}"`);
    try {
      const data = await handler(req.args);
      return { v: 1, ...tx, status: 'ok', data: data === undefined ? {} : data };
    } catch (err) {
      return fail(err instanceof Error ? err.message : String(err));
    }
  }
}
