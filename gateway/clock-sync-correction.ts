// When the system clock becomes synchronised (and at start, if it already is), punches this boot
// took with an unsynchronised clock are re-dated from the monotonic clock (see
// sync/store/punch-time-correction.ts for the rule and what the center receives). The anchor is
// read here: wall time and monotonic time back to back, while the clock is known to be right.
import type { PunchTimeCorrector, CorrectionResult } from '../sync/store/punch-time-correction.js';
import type { StreamName } from '../sync/types.js';
import type { EventPublisher } from './event-publisher.js';
import type { Logger } from './logger.js';
import { isoWithLocalOffset, type TimeFacts } from './time-facts.js';

export interface ClockSyncCorrectionDeps {
  time: TimeFacts;
  corrector: PunchTimeCorrector;
  /** Wakes the uplink of a stream that has new or rewritten pending records. */
  notify(stream: StreamName): void;
  events?: EventPublisher;
  log: Logger;
  /** Wall clock (tests). */
  nowMs?: () => number;
}

/** Runs a correction now if the clock is synchronised, and on every later sync. Returns a stop function. */
export function startClockSyncCorrection(d: ClockSyncCorrectionDeps): () => void {
  const nowMs = d.nowMs ?? Date.now;
  const run = (why: 'start' | 'synchronised'): CorrectionResult | undefined => {
    if (!d.time.clockSynced()) return undefined;
    const anchor = { bootId: d.time.bootId(), wallMs: nowMs(), monoNs: d.time.monoNs() };
    let r: CorrectionResult;
    try {
      r = d.corrector.correct(anchor, { format: (ms) => isoWithLocalOffset(new Date(ms)) });
    } catch (err) {
      // Nothing changed (one transaction); the punches stay flagged clockSynced=false and are
      // examined again at the next start or sync.
      d.log.error({ err: (err as Error).message }, 'punch time correction failed');
      return undefined;
    }
    if (r.corrected > 0) {
      d.notify('attendance');
      if (r.correctionRecords > 0) d.notify('corrections');
      d.events?.emit({
        type: 'punch-times-corrected',
        message: `${r.corrected} punch times taken before the clock synchronised were corrected`,
        detail: { ...r, why },
      });
    } else if (r.examined > 0) {
      d.log.info({ ...r, why }, 'punches taken before the clock synchronised needed no correction');
    }
    return r;
  };
  if (d.time.clockSynced()) run('start');
  return d.time.onSynced(() => run('synchronised'));
}
