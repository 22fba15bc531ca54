// "A card held on the reader is one punch": readers repeat the same id many times a second while
// a card is in the field. A sighting within `windowMs` of the previous sighting of the same id is
// a repeat; the window slides with each sighting, so a card held for a minute is still one punch.
// Only ids that were actually stored start a window: if storing failed, the next repeat is
// another chance to store it rather than a suppressed (lost) punch.

export class RepeatSuppressor {
  private readonly lastSeen = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** True when `key` is a repeat (and extends its window); false when it should be stored. */
  isRepeat(key: string): boolean {
    if (this.windowMs <= 0) return false;
    const t = this.now();
    const last = this.lastSeen.get(key);
    if (last !== undefined && t - last >= 0 && t - last < this.windowMs) {
      this.lastSeen.set(key, t);
      return true;
    }
    return false;
  }

  /** Records that `key` was stored now. */
  stored(key: string): void {
    if (this.windowMs <= 0) return;
    const t = this.now();
    this.lastSeen.set(key, t);
    if (this.lastSeen.size > 1000) this.forgetOlderThan(t - this.windowMs);
  }

  private forgetOlderThan(cutoff: number): void {
    for (const [key, seen] of this.lastSeen) if (seen < cutoff) this.lastSeen.delete(key);
  }
}
