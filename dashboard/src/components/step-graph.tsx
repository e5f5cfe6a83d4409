import type { HistoryEvent, StepAttempt } from "../api/types";
import { formatDuration } from "../format";
import { statusClass } from "./common";

/** One box of the graph: a step with all its attempts, or a durable wait. */
export interface GraphNode {
  key: string;
  kind: "step" | "timer" | "signal";
  label: string;
  detail: string;
  status: string;
  start: number;
  end: number | null;
  attempts: StepAttempt[];
}

function stepNodes(steps: readonly StepAttempt[], retrying: ReadonlySet<number>): GraphNode[] {
  const bySeq = new Map<number, StepAttempt[]>();
  for (const a of steps) {
    const list = bySeq.get(a.stepSeq) ?? [];
    list.push(a);
    bySeq.set(a.stepSeq, list);
  }
  return [...bySeq.entries()].map(([seq, attempts]) => {
    attempts.sort((a, b) => a.attempt - b.attempt);
    const first = attempts[0]!;
    const last = attempts[attempts.length - 1]!;
    const end = last.finishedAt ? Date.parse(last.finishedAt) : null;
    return {
      key: `step-${seq}`,
      kind: "step" as const,
      label: first.stepName,
      detail: `#${seq} · ${first.taskQueue}`,
      status: retrying.has(seq) ? "retrying" : last.status,
      start: Date.parse(first.scheduledAt),
      end,
      attempts,
    };
  });
}

/** Timers and signal waits, from the history (they are not steps but the run waited on them). */
function waitNodes(events: readonly HistoryEvent[]): GraphNode[] {
  const nodes = new Map<string, GraphNode>();
  for (const e of events) {
    const b = e.body;
    const at = Date.parse(e.at);
    if (e.type === "TimerStarted") {
      const due = new Date(b.dueAt as number | string).getTime();
      nodes.set(`timer-${String(b.timerSeq)}`, {
        key: `timer-${String(b.timerSeq)}`,
        kind: "timer",
        label: "sleep",
        detail: `#${String(b.timerSeq)} · ${Number.isNaN(due) ? "" : formatDuration(due - at)}`,
        status: "started",
        start: at,
        end: null,
        attempts: [],
      });
    } else if (e.type === "TimerFired") {
      const n = nodes.get(`timer-${String(b.timerSeq)}`);
      if (n) Object.assign(n, { status: "completed", end: at });
    } else if (e.type === "SignalWaitStarted") {
      nodes.set(`signal-${String(b.waitSeq)}`, {
        key: `signal-${String(b.waitSeq)}`,
        kind: "signal",
        label: `signal “${String(b.signalName)}”`,
        detail: `#${String(b.waitSeq)}`,
        status: "started",
        start: at,
        end: null,
        attempts: [],
      });
    } else if (e.type === "TimerCancelled") {
      // Its scope was cancelled (ctx.cancellable): it never fires.
      const n = nodes.get(`timer-${String(b.timerSeq)}`);
      if (n) Object.assign(n, { status: "cancelled", end: at });
    } else if (e.type === "SignalWaitCancelled") {
      const n = nodes.get(`signal-${String(b.waitSeq)}`);
      if (n) Object.assign(n, { status: "cancelled", end: at });
    } else if (e.type === "SignalWaitTimedOut") {
      const n = nodes.get(`signal-${String(b.waitSeq)}`);
      if (n) Object.assign(n, { status: "timed_out", end: at });
    } else if (e.type === "SignalReceived") {
      const open = [...nodes.values()].find(
        (n) =>
          n.kind === "signal" && n.end === null && n.label === `signal “${String(b.signalName)}”`,
      );
      if (open) Object.assign(open, { status: "completed", end: at });
    }
  }
  return [...nodes.values()];
}

/**
 * Layers left to right: a node joins the current layer when it began before any node of that
 * layer ended (they ran side by side, as `Promise.all` branches do), else it opens a new one.
 */
export function layout(nodes: GraphNode[]): GraphNode[][] {
  const sorted = nodes.slice().sort((a, b) => a.start - b.start || a.key.localeCompare(b.key));
  const layers: GraphNode[][] = [];
  let current: GraphNode[] = [];
  let firstEnd = Number.POSITIVE_INFINITY;
  for (const node of sorted) {
    if (current.length > 0 && node.start >= firstEnd) {
      layers.push(current);
      current = [];
      firstEnd = Number.POSITIVE_INFINITY;
    }
    current.push(node);
    firstEnd = Math.min(firstEnd, node.end ?? Number.POSITIVE_INFINITY);
  }
  if (current.length > 0) layers.push(current);
  return layers;
}

export function StepGraph(props: {
  steps: readonly StepAttempt[];
  events: readonly HistoryEvent[];
  runStatus: string;
  /** Steps whose last attempt failed and that wait for a retry. */
  retrying: ReadonlySet<number>;
}) {
  const layers = layout([...stepNodes(props.steps, props.retrying), ...waitNodes(props.events)]);
  if (layers.length === 0) {
    return <div className="muted">No steps yet: the run has not scheduled any.</div>;
  }
  return (
    <div className="graph" data-testid="step-graph">
      <div className="graph-node graph-terminal s-running">start</div>
      {layers.map((layer, i) => (
        <div className="graph-layer-wrap" key={i}>
          <div className="graph-arrow" aria-hidden>
            →
          </div>
          <div className="graph-layer">
            {layer.map((node) => (
              <div
                key={node.key}
                className={`graph-node ${statusClass(node.status)} k-${node.kind}`}
                data-node={node.label}
                data-status={node.status}
                title={`${node.label} ${node.detail}: ${node.status}`}
              >
                <div className="graph-label">{node.label}</div>
                <div className="graph-detail">
                  {node.detail}
                  {node.kind !== "timer" && node.end !== null
                    ? ` · ${formatDuration(node.end - node.start)}`
                    : ""}
                </div>
                {node.attempts.length > 0 ? (
                  <div className="attempt-dots" aria-label={`${node.attempts.length} attempts`}>
                    {node.attempts.map((a) => (
                      <span
                        key={a.attempt}
                        className={`attempt-dot ${statusClass(a.status)}`}
                        title={`attempt ${a.attempt}: ${a.status}`}
                      >
                        {a.attempt}
                      </span>
                    ))}
                    {node.attempts.length > 1 ? (
                      <span className="muted small">{node.attempts.length} attempts</span>
                    ) : null}
                  </div>
                ) : null}
              </div>
            ))}
          </div>
        </div>
      ))}
      {["COMPLETED", "FAILED", "CANCELLED"].includes(props.runStatus) ? (
        <div className="graph-layer-wrap">
          <div className="graph-arrow" aria-hidden>
            →
          </div>
          <div className={`graph-node graph-terminal ${statusClass(props.runStatus)}`}>
            {props.runStatus.toLowerCase()}
          </div>
        </div>
      ) : null}
    </div>
  );
}
