// The surface every attendance driver exposes to gateway/. Drivers know nothing of SQLite or
// MQTT: they hand each punch to a synchronous sink that makes it durable before returning, and
// only then answer the device or read the next frame. That ordering is what guarantees that a
// punch the device considers delivered is never lost.
import type { EventEmitter } from 'node:events';
import type { VerifyMethod } from '../config/clocks.js';

export type { VerifyMethod };

/** A punch as a device reported it, before the gateway stamps and stores it. */
export interface DevicePunch {
  clock: string;
  /** User id exactly as the device gave it (never truncated, never re-formatted). */
  user: string;
  verify: VerifyMethod;
  /**
   * Time of the punch as an ISO-8601 string with offset, when the device reported one.
   * Absent: the gateway stamps it with its own clock at receipt.
   */
  deviceTime?: string;
  /** The frame exactly as received, for audit (hex for binary protocols). */
  raw: string;
  /** Driver-specific extras (fingerprint page id and score, device serial, ...). */
  extra?: Record<string, unknown>;
}

/** What the sink returns once the punch is committed. */
export interface StoredPunchRef {
  id: string;
  seq: number;
  /** True when the same punch was already stored (device log downloads repeat). */
  duplicate: boolean;
}

/** Synchronous: returns only once the punch is durable. Throws if it could not be stored. */
export type PunchSink = (punch: DevicePunch) => StoredPunchRef;

export interface ClockStatus {
  id: string;
  driver: string;
  connected: boolean;
  /** ISO time of the last frame received (good or bad). */
  lastFrameAt: string | null;
  framesOk: number;
  framesBad: number;
  punches: number;
  /** Last error text, if any (never contains secrets). */
  lastError: string | null;
}

/** Events a driver emits besides calling the sink. */
export interface ClockEvents {
  /** Connected / disconnected transitions (gateway publishes these on tpgw/G/event). */
  connection: [connected: boolean, reason?: string];
  /** A finger or card was rejected, a frame was bad: logged and counted, never a punch. */
  notice: [kind: string, detail: Record<string, unknown>];
}

export interface ClockDriver extends EventEmitter<ClockEvents> {
  readonly id: string;
  readonly driver: string;
  start(): Promise<void>;
  /** Stops reading and closes the device; resolves when nothing more will reach the sink. */
  stop(): Promise<void>;
  status(): ClockStatus;
}
