import type { TimerEntry } from "./run";

/**
 * Min-heap of timers by due time. A timer that ends otherwise (a step's timeout once it
 * completed, a fired sleep's replacement) stays until popped, and callers re-check it against
 * its run; a cancelled timer, which may be due far ahead, leaves at once (`remove`).
 */
export class TimerQueue {
  private readonly heap: TimerEntry[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(timer: TimerEntry): void {
    this.heap.push(timer);
    this.up(this.heap.length - 1);
  }

  peekDueAt(): number | undefined {
    return this.heap[0]?.dueAt;
  }

  popDue(now: number): TimerEntry | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (!top || top.dueAt > now) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.down(0);
    }
    return top;
  }

  /**
   * Takes this timer (the entry itself, not one equal to it) out of the queue; false when it
   * is not there. A scan: cancels are rare beside the timers a partition holds, and an index
   * per timer would cost every sleeping run memory.
   */
  remove(timer: TimerEntry): boolean {
    const heap = this.heap;
    const index = heap.indexOf(timer);
    if (index < 0) return false;
    const last = heap.pop()!;
    if (index < heap.length) {
      heap[index] = last;
      this.down(index);
      this.up(index);
    }
    return true;
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
