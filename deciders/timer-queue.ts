import type { TimerEntry } from "./run";

/** Removed timers held before the heap is rebuilt without them (at least; see `remove`). */
const COMPACT_AFTER = 64;

/**
 * Min-heap of timers by due time. A timer that ends otherwise (a step's timeout once it
 * completed, a fired sleep's replacement) stays until popped, and callers re-check it against
 * its run. A cancelled timer, which may be due far ahead, is taken out with `remove`: it is
 * never popped or peeked again and no longer counts in `size`.
 */
export class TimerQueue {
  private heap: TimerEntry[] = [];
  /**
   * Timers removed but still in the heap: dropped when they reach the top, or all at once when
   * they make up half the heap, so a cancel costs O(1) and the heap stays within twice what is
   * live. (A removed timer that had been popped already is dropped at the next rebuild.)
   */
  private readonly removed = new Set<TimerEntry>();

  /** Timers held and not removed. */
  get size(): number {
    return Math.max(0, this.heap.length - this.removed.size);
  }

  push(timer: TimerEntry): void {
    this.heap.push(timer);
    this.up(this.heap.length - 1);
  }

  peekDueAt(): number | undefined {
    this.dropRemovedTop();
    return this.heap[0]?.dueAt;
  }

  popDue(now: number): TimerEntry | undefined {
    this.dropRemovedTop();
    const top = this.heap[0];
    if (!top || top.dueAt > now) return undefined;
    this.popTop();
    return top;
  }

  /** Takes this timer (the entry itself, not one equal to it) out of the queue. */
  remove(timer: TimerEntry): void {
    this.removed.add(timer);
    if (this.removed.size >= COMPACT_AFTER && this.removed.size * 2 >= this.heap.length)
      this.rebuild();
  }

  private dropRemovedTop(): void {
    while (this.heap.length > 0 && this.removed.delete(this.heap[0]!)) this.popTop();
  }

  private popTop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.down(0);
    }
  }

  private rebuild(): void {
    this.heap = this.heap.filter((timer) => !this.removed.has(timer));
    this.removed.clear();
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private up(start: number): void {
    const heap = this.heap;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.dueAt <= heap[i]!.dueAt) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  private down(start: number): void {
    const heap = this.heap;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < heap.length && heap[l]!.dueAt < heap[smallest]!.dueAt) smallest = l;
      if (r < heap.length && heap[r]!.dueAt < heap[smallest]!.dueAt) smallest = r;
      if (smallest === i) break;
      [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
      i = smallest;
    }
  }
}
