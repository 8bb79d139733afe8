/**
 * The admitted entries of one key, oldest first, for the memory store. It keeps the running total of their weight
 * so the common check (one window per key) is O(1) after pruning; shorter windows on a shared key and the
 * retry-after walk read only the entries they need. Entry times never decrease (the store clamps its clock).
 */

interface Entry {
  readonly time: number;
  readonly weight: number;
  /** Store-wide increasing number: entries are in id order too, so refunds find theirs by binary search. */
  readonly id: number;
}

export class SlidingLog {
  /** Kept from `#head` on; the dead prefix is cut off in bulk so pruning stays O(1) amortised. */
  #entries: Entry[] = [];
  #head = 0;
  #total = 0;
  /** The longest window admitted calls used on this key: entries younger than this may still count. */
  retentionMs = 0;

  get size(): number {
    return this.#entries.length - this.#head;
  }

  get newestTime(): number {
    return this.#entries.at(-1)?.time ?? -Infinity;
  }

  append(time: number, weight: number, id: number): void {
    this.#entries.push({ time, weight, id });
    this.#total += weight;
  }

  /** Drops entries at or before `cutoff`: from then on they are outside every window that may read this key. */
  prune(cutoff: number): void {
    const entries = this.#entries;
    while (this.#head < entries.length && entries[this.#head]!.time <= cutoff) {
      this.#total -= entries[this.#head]!.weight;
      this.#head += 1;
    }
    if (this.#head >= 1024 && this.#head * 2 >= entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
    this.#resetIfEmpty();
  }

  /** Weight admitted after `cutoff`, i.e. in the window (cutoff, now]. */
  weightSince(cutoff: number): number {
    const start = this.#firstAfter(cutoff);
    if (start === this.#head) return this.#total;
    let sum = 0;
    for (let i = start; i < this.#entries.length; i++) sum += this.#entries[i]!.weight;
    return sum;
  }

  /**
   * Walks the window (cutoff, now] oldest first and returns the time of the entry whose departure leaves room for
   * `weight` under `max`; undefined if even an empty window would not (weight > max).
   */
  timeWhenFits(cutoff: number, used: number, weight: number, max: number): number | undefined {
    let removed = 0;
    for (let i = this.#firstAfter(cutoff); i < this.#entries.length; i++) {
      const entry = this.#entries[i]!;
      removed += entry.weight;
      if (used - removed + weight <= max) return entry.time;
    }
    return undefined;
  }

  /** Removes the entry with this id if it is still kept; true if it was. */
  remove(id: number): boolean {
    const entries = this.#entries;
    let lo = this.#head;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entries[mid]!.id < id) lo = mid + 1;
      else hi = mid;
    }
    const entry = entries[lo];
    if (entry?.id !== id) return false;
    entries.splice(lo, 1);
    this.#total -= entry.weight;
    this.#resetIfEmpty();
    return true;
  }

  /** Index of the first kept entry later than `cutoff` (binary search: entries are in time order). */
  #firstAfter(cutoff: number): number {
    let lo = this.#head;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#entries[mid]!.time <= cutoff) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** An empty log restarts from zero: no float drift carried over from fractional weights. */
  #resetIfEmpty(): void {
    if (this.#head < this.#entries.length) return;
    this.#entries = [];
    this.#head = 0;
    this.#total = 0;
  }
}
