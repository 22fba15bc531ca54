// A simulated `line` clock: writes what the real devices write (default-format punch lines,
// RDM6300 frames, virtual-COM card ids) to a serial port. `path` is either a real tty (the peer end
// of a socat pty pair, in tests) or `sim:<name>` (demo mode on a machine without socat), in which
// case the bytes go straight to the in-process simulated port the driver opened.
import { SerialPortStream } from '@serialport/stream';
import type { VerifyMethod } from '../../config/clocks.js';
import { encodeRdm6300Frame } from '../line/presets/rdm6300.js';
import { defaultBindingFor, type SerialBinding } from '../serial/binding.js';
import { isSimPath, plugSimDevice, type SimDeviceEnd } from '../serial/sim-binding.js';
import { isoInZone } from '../time/zoned-time.js';

export type LineSimPreset = 'default' | 'rdm6300' | 'wiegand-ascii';

export interface LineClockSimOptions {
  /** Peer tty path, or `sim:<name>` for the in-process simulated port. */
  path: string;
  baudRate?: number;
  /** Binding for real paths; default the OS one. Ignored for `sim:` paths. */
  binding?: SerialBinding;
  preset?: LineSimPreset;
  /** Zone in which Date times are printed; default the box's. */
  timezone?: string;
  /** Line terminator for text presets (default CRLF). */
  lineEnding?: '\r\n' | '\n' | '\r';
}

export interface SimPunch {
  /** Default preset: any id; rdm6300: 10 hex chars; wiegand-ascii: the card digits. */
  user: string;
  /** Default preset only. A Date is printed as local wall time; a string is printed verbatim. */
  time?: Date | string;
  /** Default preset only: the word printed in the verify field. */
  verify?: VerifyMethod | string;
}

export class LineClockSim {
  private readonly opts: Required<Pick<LineClockSimOptions, 'baudRate' | 'preset' | 'lineEnding'>> & LineClockSimOptions;
  private stream: SerialPortStream | null = null;
  private simEnd: SimDeviceEnd | null = null;
  private randomTimer: NodeJS.Timeout | null = null;
  /** Bytes that went nowhere because the host had not opened a `sim:` port. */
  droppedWrites = 0;
  sent = 0;
  lastError: string | null = null;

  constructor(opts: LineClockSimOptions) {
    this.opts = { baudRate: 9600, preset: 'default', lineEnding: '\r\n', ...opts };
  }

  /** For `sim:` paths this plugs the simulated device in; for ttys it opens the peer end. */
  async open(): Promise<void> {
    const { path, baudRate } = this.opts;
    if (isSimPath(path)) {
      this.simEnd = plugSimDevice(path);
      return;
    }
    const stream = new SerialPortStream({ binding: this.opts.binding ?? defaultBindingFor(path), path, baudRate, autoOpen: false });
    stream.on('error', (err) => (this.lastError = err.message));
    stream.resume(); // discard whatever the host writes back
    await new Promise<void>((resolve, reject) => stream.open((err) => (err ? reject(err) : resolve())));
    this.stream = stream;
  }

  /** The bytes a device of this preset sends for one punch. */
  encodePunch(p: SimPunch): Buffer {
    const eol = this.opts.lineEnding;
    switch (this.opts.preset) {
      case 'rdm6300':
        return encodeRdm6300Frame(p.user);
      case 'wiegand-ascii':
        return Buffer.from(`${p.user}${eol}`, 'latin1');
      case 'default': {
        const fields = [p.user];
        if (p.time !== undefined) fields.push(typeof p.time === 'string' ? p.time : this.wallTime(p.time));
        if (p.verify !== undefined) {
          if (p.time === undefined) fields.push('');
          fields.push(p.verify);
        }
        return Buffer.from(fields.join(',') + eol, 'utf8');
      }
    }
  }

  /** Sends one punch; resolves false when a `sim:` host had not opened the port (bytes lost). */
  sendPunch(p: SimPunch): Promise<boolean> {
    return this.sendRaw(this.encodePunch(p));
  }

  /** Sends bytes as they are; resolves once written to the tty (or delivered to the `sim:` host). */
  async sendRaw(bytes: Buffer | string): Promise<boolean> {
    const data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
    if (this.simEnd) {
      const delivered = this.simEnd.send(data);
      if (delivered) this.sent++;
      else this.droppedWrites++;
      return delivered;
    }
    const stream = this.stream;
    if (!stream) throw new Error('LineClockSim is not open');
    await new Promise<void>((resolve, reject) => {
      stream.write(data, (err) => {
        if (err) return reject(err);
        stream.drain((e) => (e ? reject(e) : resolve()));
      });
    });
    this.sent++;
    return true;
  }

  /** Demo mode: a punch by a random user every `everyMs`, stamped with the current time. */
  startRandom({ users, everyMs }: { users: string[]; everyMs: number }): void {
    if (users.length === 0) throw new RangeError('startRandom needs at least one user');
    this.stopRandom();
    const verifies = ['fingerprint', 'card', 'pin'];
    this.randomTimer = setInterval(() => {
      const user = users[Math.floor(Math.random() * users.length)];
      const p: SimPunch =
        this.opts.preset === 'default' ? { user, time: new Date(), verify: verifies[Math.floor(Math.random() * verifies.length)] } : { user };
      this.sendPunch(p).catch((err: Error) => (this.lastError = err.message));
    }, everyMs);
  }

  stopRandom(): void {
    if (this.randomTimer) clearInterval(this.randomTimer);
    this.randomTimer = null;
  }

  async close(): Promise<void> {
    this.stopRandom();
    this.simEnd = null;
    const stream = this.stream;
    this.stream = null;
    if (!stream?.isOpen) return;
    await new Promise<void>((resolve) => stream.close(() => resolve()));
    stream.destroy();
  }

  private wallTime(d: Date): string {
    return isoInZone(d, this.opts.timezone).slice(0, 19).replace('T', ' ');
  }
}
