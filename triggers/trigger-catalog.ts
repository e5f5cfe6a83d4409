/**
 * The triggers a process defines, as the `triggers` query and the dashboard show them: what
 * each listens to, what it does, and its counts in this process since it started.
 */
import type { TriggerDefinition } from "./definition";
import type { TriggerCounters } from "./trigger-counters";

export interface TriggerSummary {
  name: string;
  kind: "KAFKA" | "WEBHOOK";
  /** The topic (Kafka) or the path (`/hooks/<name>`). */
  source: string;
  format: string | null;
  action: "START" | "SIGNAL" | "SIGNAL_WITH_START";
  workflowType: string | null;
  signal: string | null;
  /** `key`, `delivery` or `field:<path>`. */
  workflowId: string;
  accepted: number;
  refused: number;
}

const ACTIONS = { start: "START", signal: "SIGNAL", signalWithStart: "SIGNAL_WITH_START" } as const;

export function summarizeTriggers(
  triggers: readonly TriggerDefinition[],
  counters: TriggerCounters,
): TriggerSummary[] {
  return triggers.map((t) => ({
    name: t.name,
    kind: t.source.type === "kafka" ? "KAFKA" : "WEBHOOK",
    source: t.source.type === "kafka" ? t.source.kafka.topic : `/hooks/${t.name}`,
    format: t.source.type === "kafka" ? (t.source.kafka.format ?? "json") : null,
    action: ACTIONS[t.action],
    workflowType: t.workflowType,
    signal: t.signal,
    workflowId: typeof t.workflowId === "object" ? `field:${t.fieldPath!.join(".")}` : t.workflowId,
    ...counters.get(t.name),
  }));
}
