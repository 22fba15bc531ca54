// A simulated USB keyboard-wedge reader for tests and demo mode: a HidSource that emits the boot
// keyboard reports a real reader sends (see hid-reports.ts) through the same 'data'/'error' events
// node-hid uses, so the driver cannot tell it from the device.
import { EventEmitter } from 'node:events';
import type { HidSource, HidSourceEvents } from '../hid/hid-device.js';
import { reportsFor, type HidReportOptions } from './hid-reports.js';

export class SimulatedHidReader extends EventEmitter<HidSourceEvents> implements HidSource {
  closed = false;

  constructor(readonly path = '/dev/hidraw-sim') {
    super();
  }

  /** A card presented: every report of `code` plus its terminator, in order. */
  swipe(code: string, opts: HidReportOptions = {}): void {
    this.feed(reportsFor(code, opts));
  }

  /** Raw reports, exactly as given (recorded sequences, garbage). */
  feed(reports: Buffer[]): void {
    for (const r of reports) if (!this.closed) this.emit('data', r);
  }

  /** What node-hid does when the reader is pulled out. */
  unplug(): void {
    this.emit('error', new Error('could not read from HID device'));
  }

  close(): void {
    this.closed = true;
  }
}
