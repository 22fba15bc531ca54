// The typed surface sync/ offers gateway/. sync/ owns the SQLite file (store + migrations), the
// outbox that is the only uplink queue, and the MQTT link. Nothing here knows what a clock or a
// camera is: gateway/ turns device punches and recorded segments into these inputs.

/**
 * Outbox streams: each is published on tpgw/G/<stream> and acked on tpgw/G/<stream>/ack.
 * `corrections`: punch times corrected after a late clock sync, for punches already sent.
 */
export const STREAMS = ['attendance', 'recordings', 'corrections'] as const;
export type StreamName = (typeof STREAMS)[number];

export type VerifyText = 'fingerprint' | 'card' | 'pin' | 'face' | 'password' | 'unknown';

/** A punch ready to be stored: the gateway has stamped it with its own clock facts. */
export interface NewPunch {
  clock: string;
  user: string;
  verify: VerifyText;
  /** Time of the punch, ISO-8601 with offset (device time if it gave one, else receipt time). */
  time: string;
  /** Gateway wall time at receipt, ISO-8601 with offset. */
  receivedAt: string;
  /** Whether the system clock was synchronised (NTP) at receipt. */
  clockSynced: boolean;
  /** process.hrtime.bigint()-style monotonic reading at receipt, and the kernel boot id. */
  monoNs: bigint;
  bootId: string;
  /** Raw frame for audit. */
  raw: string;
  /** Person id resolved from an enrollment (fingerprint page -> person), if known. */
  person?: string;
  /** Teaching session running at the time, if any. */
  session?: string;
  extra?: Record<string, unknown>;
  /**
   * Identity of the punch on the device (e.g. "zk:<serial>:<user>:<time>"). A second append with
   * the same key is not stored again: the first one's id is returned with duplicate=true.
   */
  dedupeKey?: string;
}

export interface StoredPunch {
  seq: number;
  /** "<gatewayId>:<seq>" — the id the center deduplicates on. */
  id: string;
  clock: string;
  user: string;
  person: string | null;
  session: string | null;
  verify: VerifyText;
  time: string;
  receivedAt: string;
  clockSynced: boolean;
  monoNs: string;
  bootId: string;
  raw: string;
  extra: Record<string, unknown> | null;
  /** 'pending' | 'inflight' | 'settled' */
  state: OutboxState;
  batch: string | null;
  settledAt: string | null;
}

export type OutboxState = 'pending' | 'inflight' | 'settled';

export interface AppendResult {
  id: string;
  seq: number;
  duplicate: boolean;
}

/** What is sent for one record inside a batch payload `{"v":1,"batch":..,"records":[...]}`. */
export type WireRecord = Record<string, unknown> & { id: string; seq: number };

export interface StreamStats {
  stream: StreamName;
  pending: number;
  inflight: number;
  settled: number;
  /** Age in seconds of the oldest record not yet settled; null if none. */
  oldestPendingAgeSeconds: number | null;
  /** ISO time of the last center ack on this stream; null if none yet. */
  lastAckAt: string | null;
  lastSeq: number;
}

export interface LinkStatus {
  connected: boolean;
  url: string; // without credentials
  clientId: string;
  connectedSince: string | null;
  reconnects: number;
  lastError: string | null;
  /** 5, or 4 (3.1.1) when configured so or after the broker refused MQTT 5. */
  protocolVersion: 4 | 5;
}

/** A request handler for tpgw/G/request/<name>; the result becomes `data` in the response. */
export type RequestHandler = (args: Record<string, unknown>) => Promise<unknown> | unknown;
