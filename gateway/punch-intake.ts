// Turns a device punch into a stored punch. This is the one place where a punch becomes durable:
// the driver calls it synchronously and answers the device only after it returns, so every
// punch the device believes delivered is already committed (WAL, synchronous=FULL).
import type { DevicePunch, PunchSink, StoredPunchRef } from '../drivers/types.js';
import type { PunchStore } from '../sync/store/punch-store.js';
import type { EnrollmentStore } from '../sync/store/enrollment-store.js';
import type { TimeFacts } from './time-facts.js';
import { isoWithLocalOffset } from './time-facts.js';

export interface IntakeDeps {
  punches: PunchStore;
  enrollments: EnrollmentStore;
  time: TimeFacts;
  /** Session running now, if the teaching-point domain knows one. */
  currentSession?: () => string | undefined;
  /** Called after a new (non-duplicate) punch is committed: wakes the uplink. */
  onStored: (punch: DevicePunch, ref: StoredPunchRef) => void;
  onDuplicate?: (punch: DevicePunch) => void;
  now?: () => Date;
}

export function createPunchIntake(deps: IntakeDeps): PunchSink {
  const now = deps.now ?? (() => new Date());
  return (p: DevicePunch): StoredPunchRef => {
    const at = now();
    const receivedAt = isoWithLocalOffset(at);
    // Fingerprint modules report a template page: the person is whoever is enrolled there.
    const page = typeof p.extra?.page === 'number' ? p.extra.page : undefined;
    const person = page !== undefined ? deps.enrollments.get(p.clock, page) : undefined;
    const dedupeKey = typeof p.extra?.dedupeKey === 'string' ? p.extra.dedupeKey : undefined;
    const ref = deps.punches.append({
      clock: p.clock,
      user: p.user,
      verify: p.verify,
      time: p.deviceTime ?? receivedAt,
      receivedAt,
      clockSynced: deps.time.clockSynced(),
      monoNs: deps.time.monoNs(),
      bootId: deps.time.bootId(),
      raw: p.raw,
      person,
      session: deps.currentSession?.(),
      extra: p.extra,
      dedupeKey,
    });
    if (ref.duplicate) deps.onDuplicate?.(p);
    else deps.onStored(p, ref);
    return ref;
  };
}
