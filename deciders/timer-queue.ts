import type { TimerEntry } from "./run";

/** Min-heap of timers by due time. Cancelled timers stay until popped; callers re-check. */
export class TimerQueue {
  private readonly heap: TimerEntry[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(timer: TimerEntry): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.dueAt <= heap[i]!.dueAt) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
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
      let i = 0;
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
    return top;
  }
}
