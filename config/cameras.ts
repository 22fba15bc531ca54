// Camera, recording, snapshot and ffmpeg configuration (the streams/ folder consumes these).
import { z } from 'zod';
import { clockIdSchema } from './clocks.js';

export const cameraSchema = z.strictObject({
  id: clockIdSchema,
  name: z.string().optional(),
  onvif: z
    .strictObject({
      host: z.string().min(1),
      port: z.number().int().positive().default(80),
      username: z.string().optional(),
      password: z.string().optional(),
    })
    .optional(),
  /** Overrides the ONVIF stream URI; required for cameras without ONVIF. */
  rtspUrl: z.string().optional(),
  record: z.enum(['always', 'schedule', 'off']).default('always'),
  /** ONVIF profile token or name; default: highest-resolution H.264/H.265 profile. */
  profile: z.string().optional(),
});
export type CameraConfig = z.infer<typeof cameraSchema>;

export const ffmpegSchema = z
  .strictObject({
    path: z.string().optional(),
    ffprobePath: z.string().optional(),
    /** Seconds between `q` on stdin, SIGTERM and SIGKILL when stopping ffmpeg. */
    stopGraceSeconds: z.number().positive().default(5),
    /** Restart ffmpeg when no progress is seen for this long. */
    stallSeconds: z.number().positive().default(20),
  })
  .prefault({});

export const recordingsSchema = z
  .strictObject({
    /** Default: <gateway.dataDir>/recordings */
    dir: z.string().optional(),
    segmentSeconds: z.number().int().positive().default(60),
    format: z.enum(['mp4', 'ts']).default('mp4'),
    keepDays: z.number().positive().default(30),
    minFreeGB: z.number().nonnegative().default(2),
    /** Space kept free for the SQLite database whatever recordings need. */
    reserveForDatabaseMB: z.number().nonnegative().default(256),
    /** A pause between consecutive segments longer than this is recorded as a gap. */
    gapSeconds: z.number().positive().default(5),
  })
  .prefault({});

export const snapshotsSchema = z
  .strictObject({
    intervalSeconds: z.number().positive().default(60),
    maxBytes: z.number().int().positive().default(512 * 1024),
  })
  .prefault({});
