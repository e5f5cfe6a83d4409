import type { EventType, HistoryEvent } from "../../schemas/types";

export function types(events: readonly HistoryEvent[]): EventType[] {
  return events.map((e) => e.body.type);
}

/** Invariant 2: sequence numbers 1..n with no gap and no repeat. */
export function expectGapless(events: readonly HistoryEvent[]): void {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
}

export function count(events: readonly HistoryEvent[], type: EventType): number {
  return events.filter((e) => e.body.type === type).length;
}

/** Invariant 3: no step has two StepCompleted events. */
export function expectEachStepCompletedOnce(events: readonly HistoryEvent[]): void {
  const completed = events.flatMap((e) =>
    e.body.type === "StepCompleted" ? [e.body.stepSeq] : [],
  );
  expect(new Set(completed).size).toBe(completed.length);
}

export function eventsOf<T extends EventType>(
  events: readonly HistoryEvent[],
  type: T,
): (HistoryEvent & { body: Extract<HistoryEvent["body"], { type: T }> })[] {
  return events.filter((e) => e.body.type === type) as (HistoryEvent & {
    body: Extract<HistoryEvent["body"], { type: T }>;
  })[];
}
