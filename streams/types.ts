// The typed surface streams/ offers gateway/: camera management, supervised ffmpeg recording,
// the segment index (a table in the gateway's SQLite file, handle passed in by gateway/),
// retention and snapshots. streams/ never talks MQTT: it emits, gateway/ publishes.
import type { EventEmitter } from 'node:events';

export type SegmentStatus = 'ok' | 'corrupt' | 'missing';

export interface SegmentInfo {
  id: number;
  camera: string;
  /** Path relative to the recordings directory: <camera>/<YYYY-MM-DD>/<HH-MM-SS>.<ext> (UTC). */
  path: string;
  start: string; // ISO-8601 UTC
  end: string; // ISO-8601 UTC
  durationSeconds: number;
  bytes: number;
  sha256: string;
  status: SegmentStatus;
  /** Teaching session running when the segment started, if any. */
  session: string | null;
  /** Segment was written before a crash and closed by start-up reconciliation. */
  recovered: boolean;
}

export type CameraEventType =
  | 'camera-offline'
  | 'camera-online'
  | 'recording-gap'
  | 'segment-corrupt'
  | 'segment-missing'
  | 'disk-low'
  | 'disk-full';

export interface CameraEvent {
  type: CameraEventType;
  camera?: string;
  /** Human-readable, never contains credentials. */
  message: string;
  detail?: Record<string, unknown>;
}

export interface CameraStatus {
  id: string;
  name: string | null;
  online: boolean;
  recording: boolean;
  /** Stream URL with any credentials removed. */
  streamUrl: string | null;
  lastSegmentAt: string | null;
  restarts: number;
  lastError: string | null;
}

export interface StreamsEvents {
  /** A segment finished, was probed and indexed. */
  segment: [SegmentInfo];
  event: [CameraEvent];
  /** A periodic snapshot: JPEG bytes. */
  snapshot: [camera: string, jpeg: Buffer];
}

export interface CameraService extends EventEmitter<StreamsEvents> {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): CameraStatus[];
  /** A fresh JPEG from the camera (ONVIF snapshot URI or one frame grabbed with ffmpeg). */
  snapshot(camera: string): Promise<Buffer>;
  /** Segments started from now on carry this session id (null: no session running). */
  setSession(session: string | null): void;
}
