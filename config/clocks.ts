// Attendance clock configuration. One entry per device; `driver` selects the protocol.
// The drivers issue adds more drivers here (r30x, hid-wedge, zk); each is a variant of the
// discriminated union so a typo in `driver` is reported with the list of valid names.
import { z } from 'zod';

export const clockIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -');

export const verifyMethodSchema = z.enum(['fingerprint', 'card', 'pin', 'face', 'password', 'unknown']);
export type VerifyMethod = z.infer<typeof verifyMethodSchema>;

const clockCommon = {
  id: clockIdSchema,
  name: z.string().optional(),
  enabled: z.boolean().default(true),
};

/** Serial ASCII clocks: one CR/LF-terminated line per punch. */
export const lineClockSchema = z.strictObject({
  ...clockCommon,
  driver: z.literal('line'),
  /** Device path (/dev/ttyUSB0, /dev/serial/by-id/...), or `sim:<name>` for the built-in simulator. */
  port: z.string().min(1),
  baudRate: z.number().int().positive().default(9600),
  /** IANA zone of times the device prints; default: the box's zone. */
  timezone: z.string().optional(),
  /** Regex with named groups `user`, `time`, `verify`; default `USER[,YYYY-MM-DD HH:mm:ss[,VERIFY]]`. */
  pattern: z.string().optional(),
  /** Line framing preset: plain lines, RDM6300 125 kHz frames, or virtual-COM Wiegand readers. */
  preset: z.enum(['default', 'rdm6300', 'wiegand-ascii']).default('default'),
  /** Verify method recorded when the line does not say (card readers: "card"). */
  verify: verifyMethodSchema.optional(),
  /** Repeats of the same user within this window are one punch (card held on the reader). */
  repeatSuppressMs: z.number().int().nonnegative().optional(),
});

const hexId = (len: number) => z.string().regex(new RegExp(`^[0-9A-Fa-f]{${len}}$`), `must be ${len} hex digits`);

/** UART fingerprint modules (Grow R30x/R503, AS608, ZFM-20). */
export const r30xClockSchema = z.strictObject({
  ...clockCommon,
  driver: z.literal('r30x'),
  port: z.string().min(1),
  baudRate: z.number().int().positive().default(57600),
  /** Module address, 8 hex digits. */
  address: hexId(8).default('FFFFFFFF'),
  /** Module password (VfyPwd), 8 hex digits; omit when the module has none. */
  password: hexId(8).optional(),
  /** Search (exhaustive) or HighSpeedSearch. */
  search: z.enum(['search', 'highspeed']).default('search'),
  /** Idle time between finger polls (GenImg) in ms. */
  pollMs: z.number().int().positive().default(200),
  /** Matches scoring below this are treated as rejected fingers. */
  minScore: z.number().int().nonnegative().default(0),
  /** Library capacity to search (page 0 .. capacity-1); default read from the module. */
  capacity: z.number().int().positive().optional(),
});

/** USB HID keyboard-emulating card readers. */
export const hidWedgeClockSchema = z.strictObject({
  ...clockCommon,
  driver: z.literal('hid-wedge'),
  vendorId: z.number().int().min(0).max(0xffff),
  productId: z.number().int().min(0).max(0xffff),
  serialNumber: z.string().optional(),
  /** hidraw path, when several identical readers are attached. */
  path: z.string().optional(),
  verify: verifyMethodSchema.default('card'),
  /** Take the device exclusively so the kernel stops typing codes into the console. */
  grab: z.boolean().default(false),
  /** A code not terminated within this time is dropped as incomplete. */
  interKeyTimeoutMs: z.number().int().positive().default(500),
  repeatSuppressMs: z.number().int().nonnegative().default(0),
});

/** ZKTeco attendance terminals on the LAN. */
export const zkClockSchema = z.strictObject({
  ...clockCommon,
  driver: z.literal('zk'),
  host: z.string().min(1),
  port: z.number().int().positive().default(4370),
  transport: z.enum(['tcp', 'udp', 'auto']).default('auto'),
  /** Communication key (password) set on the terminal; 0 = none. */
  commKey: z.number().int().nonnegative().default(0),
  /** IANA zone the terminal's clock runs in; default: the box's zone. */
  timezone: z.string().optional(),
  /** Bulk log download interval (realtime events are also received). */
  pollSeconds: z.number().positive().default(300),
  /** Set the terminal's clock from the gateway's when the gateway clock is synchronised. */
  syncTime: z.boolean().default(false),
  /** Clear the terminal's log once every record in it is settled at the center. */
  clearLogWhenSettled: z.boolean().default(false),
  timeoutMs: z.number().int().positive().default(5000),
});

export const clockSchema = z.discriminatedUnion('driver', [lineClockSchema, r30xClockSchema, hidWedgeClockSchema, zkClockSchema]);
export type ClockConfig = z.infer<typeof clockSchema>;
export type LineClockConfig = z.infer<typeof lineClockSchema>;
export type R30xClockConfig = z.infer<typeof r30xClockSchema>;
export type HidWedgeClockConfig = z.infer<typeof hidWedgeClockSchema>;
export type ZkClockConfig = z.infer<typeof zkClockSchema>;
