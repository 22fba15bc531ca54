// Which teaching session was running at a given instant. Segments are learnt about when they
// end, but carry the session that was running when they started, so changes are remembered
// with their time for a while.

const KEEP_MS = 6 * 3600_000;

export class SessionTimeline {
  private entries: Array<{ at: number; session: string | null }> = [{ at: 0, session: null }];

  set(session: string | null, at = Date.now()): void {
    this.entries.push({ at, session });
    // Forget old changes but keep the one in force at the start of the window.
    const horizon = at - KEEP_MS;
    while (this.entries.length > 1 && this.entries[1].at <= horizon) this.entries.shift();
  }

  at(time: number): string | null {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i].at <= time) return this.entries[i].session;
    }
    return this.entries[0].session;
  }
}
