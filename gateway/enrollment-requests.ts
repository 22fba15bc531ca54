// MQTT requests that maintain the fingerprint enrollments (clock + template page → person id):
// `enrollments/set`, `enrollments/remove`, `enrollments/list`. Fingerprint modules identify a
// finger only by its page; the center owns who a person is, so it tells the gateway here. The
// intake looks the page up when a punch arrives, so a mapping applies to punches from then on.
import { z } from 'zod';
import { clockIdSchema } from '../config/clocks.js';
import type { RequestRouter } from '../sync/requests/request-router.js';
import type { EnrollmentStore } from '../sync/store/enrollment-store.js';

/** R30x-family modules address their library with 16-bit page ids. */
const pageSchema = z.number().int().min(0).max(0xffff);

const setArgs = z.strictObject({
  clock: clockIdSchema,
  page: pageSchema,
  person: z.string().trim().min(1, 'must not be empty').max(128),
});
const removeArgs = z.strictObject({ clock: clockIdSchema, page: pageSchema });
const listArgs = z.strictObject({ clock: clockIdSchema });

export interface EnrollmentRequestOptions {
  /** Clock ids a mapping may be set for (the configured ones); remove/list accept any id so stale rows can be cleaned. */
  knownClocks?: () => readonly string[];
}

function parse<S extends z.ZodType>(schema: S, args: Record<string, unknown>, request: string): z.infer<S> {
  const r = schema.safeParse(args);
  if (r.success) return r.data;
  const why = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new Error(`${request}: invalid arguments: ${why}`);
}

export function registerEnrollmentRequests(router: RequestRouter, store: EnrollmentStore, opts: EnrollmentRequestOptions = {}): void {
  router.register('enrollments/set', (args) => {
    const a = parse(setArgs, args, 'enrollments/set');
    const known = opts.knownClocks?.();
    if (known && !known.includes(a.clock)) throw new Error(`enrollments/set: no clock "${a.clock}" is configured (known: ${known.join(', ') || 'none'})`);
    const previous = store.get(a.clock, a.page) ?? null;
    store.set(a.clock, a.page, a.person);
    return { clock: a.clock, page: a.page, person: a.person, previous };
  });
  router.register('enrollments/remove', (args) => {
    const a = parse(removeArgs, args, 'enrollments/remove');
    return { clock: a.clock, page: a.page, removed: store.remove(a.clock, a.page) };
  });
  router.register('enrollments/list', (args) => {
    const a = parse(listArgs, args, 'enrollments/list');
    return { clock: a.clock, enrollments: store.list(a.clock).map(({ page, person, createdAt }) => ({ page, person, createdAt })) };
  });
}
