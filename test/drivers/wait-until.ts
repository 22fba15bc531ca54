// until() with the condition first, as the serial driver tests call it.
import { until } from '../helpers/until.js';

export const waitUntil = (cond: () => boolean, what: string, timeoutMs?: number): Promise<void> => until(what, cond, timeoutMs);
