import { useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, request } from "../api/client";
import {
  WAITING_FOR_DECIDER,
  CANCEL_WORKFLOW,
  SIGNAL_WORKFLOW,
  WORKFLOW,
  WORKFLOW_EVENTS,
  WORKFLOW_STATE,
  WORKFLOW_UPDATED,
} from "../api/documents";
import { useNow, useQuery, useSubscription, useThrottled } from "../api/hooks";
import type { HistoryEvent, RunRow, StepAttempt, WaitItem, WorkflowDetail } from "../api/types";
import {
  Elapsed,
  Empty,
  ErrorBox,
  JsonView,
  Loading,
  Modal,
  Mono,
  Panel,
  StatusBadge,
  Time,
} from "../components/common";
import { ErrorDetails } from "../components/error-view";
import { RunOperationDialog, type RunOperation } from "../components/run-operations";
import { StepGraph } from "../components/step-graph";
import { AttemptTimeline } from "../components/timeline";
import { errorCode, errorMessage, formatAbsolute, formatDuration } from "../format";
import { Link, runPath } from "../router";

const OPEN = new Set(["PENDING", "RUNNING", "BLOCKED"]);

type RunState = Omit<WorkflowDetail, "events">;

export function RunDetail({ workflowId }: { workflowId: string }) {
  // First paint: the run with its history. After that, a live change refetches the run's
  // state only (not its history), and new events arrive by subscription.
  const query = useQuery<{ workflow: WorkflowDetail | null }>(WORKFLOW, { id: workflowId });
  const [followed, setFollowed] = useState(false);
  const state = useQuery<{ workflow: RunState | null }>(
    WORKFLOW_STATE,
    { id: workflowId },
    { skip: !followed },
  );
  const refetchState = state.refetch;
  const refresh = useThrottled(() => {
    if (followed) refetchState();
    else setFollowed(true);
  }, 300);
  const [liveEvents, setLiveEvents] = useState<HistoryEvent[]>([]);
  // Events follow on from the first paint's last one: no gap, no repeat.
  const [afterSeq, setAfterSeq] = useState<number>();
  const loaded = query.data !== undefined;
  const stored = query.data?.workflow?.events;
  useEffect(() => {
    if (!loaded || afterSeq !== undefined) return;
    setAfterSeq(stored && stored.length > 0 ? stored[stored.length - 1]!.seq : 0);
  }, [loaded, afterSeq, stored]);
  const eventsError = useSubscription<{ workflowEvents: HistoryEvent }>(
    WORKFLOW_EVENTS,
    { workflowId, afterSeq },
    ({ workflowEvents: event }) => {
      setLiveEvents((list) => (list.some((e) => e.seq === event.seq) ? list : [...list, event]));
      refresh();
    },
    { skip: afterSeq === undefined },
  );
  const updatedError = useSubscription<{ workflowUpdated: RunRow }>(
    WORKFLOW_UPDATED,
    { filter: { text: workflowId } },
    ({ workflowUpdated: row }) => {
      if (row.id === workflowId) refresh();
    },
  );
  const latest = state.data?.workflow ?? query.data?.workflow ?? null;
  const events = useMemo(() => {
    const first = stored ?? [];
    const last = first.length > 0 ? first[first.length - 1]!.seq : 0;
    return [...first, ...liveEvents.filter((e) => e.seq > last)].sort((a, b) => a.seq - b.seq);
  }, [stored, liveEvents]);
  const run: WorkflowDetail | null = latest ? { ...latest, events } : null;

  if (query.error && !query.data) {
    return (
      <div className="page">
        <Breadcrumb id={workflowId} />
        <ErrorBox error={query.error} onRetry={query.refetch} />
      </div>
    );
  }
  if (!query.data)
    return (
      <div className="page">
        <Breadcrumb id={workflowId} />
        <Loading what="the run" />
      </div>
    );
  if (!run) {
    return (
      <div className="page">
        <Breadcrumb id={workflowId} />
        <Empty title="No run with this ID">
          Check the ID, or wait a moment: a run appears once the projector has stored its start.
          This page updates by itself.
        </Empty>
      </div>
    );
  }
  const failed = failedAttempts(run.steps);
  // The attempt whose failure failed the run: the Error panel shows it, the list the others.
  const cause = errorCode(run.error) === "STEP_FAILED" ? failed[0] : undefined;
  const failures = failed.filter((a) => a !== cause);
  // A closed run shows why it ended first (on a narrow screen, above everything else).
  const closed = !OPEN.has(run.status);
  const outcome = (
    <Panel title={run.status === "FAILED" || run.status === "CANCELLED" ? "Error" : "Result"}>
      {run.error != null ? (
        <RunError run={run} cause={cause} />
      ) : run.status === "COMPLETED" ? (
        <JsonView value={run.result} empty="null" />
      ) : (
        <span className="muted">Not finished yet.</span>
      )}
    </Panel>
  );
  const retrying = new Set(run.waitingOn.filter((w) => w.kind === "retry").map((w) => w.stepSeq));
  return (
    <div className="page" data-page="run" data-run-status={run.status}>
      <Breadcrumb id={workflowId} />
      <header className="run-head">
        <div>
          <h1 className="mono run-id">{run.id}</h1>
          <div className="run-meta">
            <StatusBadge status={run.status} />
            <span>
              type <b>{run.type}</b>
            </span>
            <span>
              started <Time iso={run.startedAt} />
            </span>
            {run.closedAt ? (
              <span>
                closed <Time iso={run.closedAt} />
              </span>
            ) : null}
            <span>
              duration <Elapsed from={run.startedAt} to={run.closedAt} />
            </span>
            <span>{run.lastSeq} events</span>
            {run.idempotencyKey ? (
              <span>
                idempotency key <Mono>{run.idempotencyKey}</Mono>
              </span>
            ) : null}
            {run.parentId ? (
              <span data-testid="run-parent">
                child of{" "}
                <Link to={runPath(run.parentId)} className="mono">
                  {run.parentId}
                </Link>
              </span>
            ) : null}
          </div>
        </div>
        <Actions run={run} onDone={refresh} />
      </header>
      {(query.error ?? state.error) ? <ErrorBox error={(query.error ?? state.error)!} /> : null}
      {(eventsError ?? updatedError) ? <ErrorBox error={(eventsError ?? updatedError)!} /> : null}

      <div className="grid-2">
        {closed ? outcome : null}
        <Panel title="Waiting on">
          <WaitingOn run={run} />
        </Panel>
        {closed ? null : outcome}
      </div>
      {run.state != null ? (
        <Panel title="State" id="state">
          <JsonView value={run.state} />
          <div className="muted small" data-testid="state-note">
            {OPEN.has(run.status)
              ? "Live: what the run last published with ctx.setState."
              : "What the run last published with ctx.setState before it ended."}
          </div>
        </Panel>
      ) : null}
      {failures.length > 0 ? (
        <Panel
          title={`${cause ? "Earlier failed attempts" : "Failed attempts"} (${failures.length})`}
        >
          <FailedAttempts attempts={failures} />
        </Panel>
      ) : null}
      <Panel title="Input">
        <JsonView value={run.input} empty="no input" />
      </Panel>
      {run.children.length > 0 ? (
        <Panel title={`Children (${run.children.length})`} id="children">
          <ul className="child-runs" data-testid="run-children">
            {run.children.map((child) => (
              <li key={child.id}>
                <StatusBadge status={child.status} />{" "}
                <Link to={runPath(child.id)} className="mono">
                  {child.id}
                </Link>{" "}
                <span className="muted">{child.type}</span>
              </li>
            ))}
          </ul>
        </Panel>
      ) : null}
      <Panel title="Step graph">
        <StepGraph steps={run.steps} events={events} runStatus={run.status} retrying={retrying} />
      </Panel>
      <Panel title="Attempts">
        <AttemptTimeline
          startedAt={run.startedAt}
          closedAt={run.closedAt}
          steps={run.steps}
          timers={run.timers}
        />
      </Panel>
      {run.signals.length > 0 ? (
        <Panel title="Signals received">
          <table className="table">
            <thead>
              <tr>
                <th className="num">seq</th>
                <th>name</th>
                <th>received</th>
                <th title="A signal no waitForSignal took is buffered, or went to an onSignal handler">
                  taken by wait
                </th>
                <th>payload</th>
              </tr>
            </thead>
            <tbody>
              {run.signals.map((s) => (
                <tr key={s.seq}>
                  <td className="num">{s.seq}</td>
                  <td>{s.name}</td>
                  <td>
                    <Time iso={s.receivedAt} />
                  </td>
                  <td>{s.waitSeq ?? <span className="muted">buffered or handled</span>}</td>
                  <td>
                    <code className="mono small">{JSON.stringify(s.payload)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Panel>
      ) : null}
      <Panel title={`History (${events.length} events)`} id="history">
        <EventHistory events={events} />
      </Panel>
    </div>
  );
}

function Breadcrumb({ id }: { id: string }) {
  return (
    <nav className="breadcrumb">
      <Link to="/runs">Runs</Link> / <span className="mono">{id}</span>
    </nav>
  );
}

/** The attempts that failed or timed out, newest first. */
function failedAttempts(steps: readonly StepAttempt[]): StepAttempt[] {
  return steps
    .filter((a) => (a.status === "failed" || a.status === "timed_out") && a.error != null)
    .sort(
      (a, b) =>
        (b.finishedAt ?? "").localeCompare(a.finishedAt ?? "") ||
        b.stepSeq - a.stepSeq ||
        b.attempt - a.attempt,
    );
}

/**
 * Why the run ended. A run failed by a step shows the step's error, as the user's code threw
 * it, first; the run's own error (Weft's, "step X failed after N attempts") comes after it.
 */
function RunError({ run, cause }: { run: WorkflowDetail; cause: StepAttempt | undefined }) {
  const error = run.error;
  if (!cause) return <ErrorDetails error={error} />;
  return (
    <div className="run-error">
      <div className="error-origin">
        Step <b>{cause.stepName}</b>{" "}
        <span className="muted">
          #{cause.stepSeq}, attempt {cause.attempt}
        </span>{" "}
        {cause.status === "timed_out" ? "timed out" : "failed"}
        {cause.workerId ? (
          <>
            {" "}
            on <Mono>{cause.workerId}</Mono>
          </>
        ) : null}
        :
      </div>
      <ErrorDetails error={cause.error} raw={false} />
      <details className="run-error-own">
        <summary>
          The run’s error: <span className="muted">{errorMessage(error)}</span>
        </summary>
        <ErrorDetails error={error} />
      </details>
    </div>
  );
}

const SHOWN_FAILURES = 5;

/** Every failed or timed-out attempt with its error: the user's message, then the stack. */
function FailedAttempts({ attempts }: { attempts: StepAttempt[] }) {
  const [all, setAll] = useState(false);
  const shown = all ? attempts : attempts.slice(0, SHOWN_FAILURES);
  return (
    <div className="failures" data-testid="failed-attempts">
      {shown.map((a) => (
        <div
          key={`${a.stepSeq}-${a.attempt}`}
          className="failure"
          data-attempt={`${a.stepName}#${a.stepSeq}.${a.attempt}`}
        >
          <div className="failure-head">
            <b>{a.stepName}</b>{" "}
            <span className="muted">
              #{a.stepSeq}, attempt {a.attempt}
            </span>{" "}
            <StatusBadge status={a.status} /> <Time iso={a.finishedAt} />
            {a.workerId ? (
              <span className="muted">
                {" "}
                on <Mono>{a.workerId}</Mono>
              </span>
            ) : null}
          </div>
          <ErrorDetails error={a.error} raw={false} />
        </div>
      ))}
      {attempts.length > shown.length ? (
        <button className="btn small" onClick={() => setAll(true)}>
          Show {attempts.length - shown.length} more
        </button>
      ) : null}
    </div>
  );
}

function WaitingOn({ run }: { run: WorkflowDetail }) {
  const now = useNow();
  const pending = run.status === "PENDING";
  const decider = useQuery<{ workflow: { waitingForDecider: boolean } | null }>(
    WAITING_FOR_DECIDER,
    { id: run.id },
    { skip: !pending },
  );
  const recheck = decider.refetch;
  useEffect(() => {
    if (pending) recheck();
  }, [pending, run.updatedAt, recheck]);
  const waitingForDecider = pending && decider.data?.workflow?.waitingForDecider === true;
  const items: ReactNode[] = [];
  if (waitingForDecider) {
    items.push(
      <li key="decider">
        Waiting for a decider that hosts <b>{run.type}</b>: none is alive. It starts when one comes
        back.
      </li>,
    );
  }
  if (run.status === "BLOCKED") {
    items.push(
      <li key="blocked" className="blocked">
        Blocked
        {run.blockedCode ? (
          <>
            {" "}
            (<span className="code">{run.blockedCode}</span>)
          </>
        ) : null}
        : {run.blockedReason ?? "no reason recorded"}. Fix the code and restart its decider.
      </li>,
    );
  }
  for (const item of run.waitingOn)
    items.push(<li key={waitKey(item)}>{describeWait(item, now)}</li>);
  if (items.length === 0) {
    return (
      <div className="muted">
        {OPEN.has(run.status) ? "Nothing: the decider is deciding." : "Nothing: the run is closed."}
      </div>
    );
  }
  return (
    <ul className="waits" data-testid="waiting-on">
      {items}
    </ul>
  );
}

function waitKey(item: WaitItem): string {
  switch (item.kind) {
    case "step":
      return `step-${item.stepSeq}-${item.attempt}`;
    case "retry":
      return `retry-${item.stepSeq}`;
    case "timer":
      return `timer-${item.timerSeq}`;
    case "signal":
      return `signal-${item.waitSeq}`;
    case "child":
      return `child-${item.childSeq}`;
  }
}

function until(iso: string | null, now: number): string {
  if (!iso) return "";
  const ms = Date.parse(iso) - now;
  return ms > 0 ? `in ${formatDuration(ms)}` : "now (due)";
}

/** "in 5.7 s (16:45:03)": the countdown, then the local clock time. */
function Due({ iso, now }: { iso: string; now: number }) {
  return (
    <>
      <b>{until(iso, now)}</b>{" "}
      <span className="muted" title={formatAbsolute(iso)}>
        ({new Date(iso).toLocaleTimeString()})
      </span>
    </>
  );
}

function describeWait(item: WaitItem, now: number): ReactNode {
  switch (item.kind) {
    case "child":
      return (
        <>
          Child workflow <b>{item.workflowType}</b>{" "}
          <Link to={runPath(item.childWorkflowId)} className="mono" data-testid="waiting-child">
            {item.childWorkflowId}
          </Link>{" "}
          <span className="muted">
            (#{item.childSeq}) to close, for <b>{formatDuration(now - Date.parse(item.since))}</b>
          </span>
        </>
      );
    case "step": {
      const since = item.state === "started" && item.startedAt ? item.startedAt : item.since;
      return (
        <>
          Step <b>{item.stepName}</b>{" "}
          <span className="muted">
            #{item.stepSeq}, attempt {item.attempt}
          </span>{" "}
          on queue <Mono>{item.taskQueue}</Mono>:{" "}
          {item.state === "started" ? "running" : "waiting for a worker"} for{" "}
          <b>{formatDuration(now - Date.parse(since))}</b>
          {item.workerId ? (
            <>
              {" "}
              on <Mono>{item.workerId}</Mono>
            </>
          ) : null}
          {item.timeoutMs !== null ? (
            <span className="muted"> (timeout {formatDuration(item.timeoutMs)})</span>
          ) : null}
        </>
      );
    }
    case "retry":
      return (
        <>
          Retry of step <b>{item.stepName}</b> <span className="muted">#{item.stepSeq}</span>:
          attempt {item.nextAttempt}{" "}
          {item.dueAt ? (
            <>
              starts <Due iso={item.dueAt} now={now} />
            </>
          ) : (
            "is being scheduled"
          )}
        </>
      );
    case "timer":
      return (
        <>
          A timer <span className="muted">#{item.timerSeq}</span> fires{" "}
          <Due iso={item.dueAt} now={now} />
        </>
      );
    case "signal":
      return (
        <>
          A signal named <b>“{item.signalName}”</b>{" "}
          <span className="muted">
            (wait #{item.waitSeq}, since <Time iso={item.since} />)
          </span>
          {item.dueAt ? (
            <>
              , or a timeout <Due iso={item.dueAt} now={now} />
            </>
          ) : (
            ", with no timeout"
          )}
        </>
      );
  }
}

const EVENT_GROUPS: Record<string, (type: string) => boolean> = {
  all: () => true,
  workflow: (t) => t.startsWith("Workflow"),
  steps: (t) => t.startsWith("Step"),
  timers: (t) => t.startsWith("Timer"),
  signals: (t) => t.startsWith("Signal"),
};

const SHOWN_EVENTS = 500;

function EventHistory({ events }: { events: HistoryEvent[] }) {
  const [group, setGroup] = useState("all");
  const [text, setText] = useState("");
  const [open, setOpen] = useState<ReadonlySet<number>>(new Set());
  const [limit, setLimit] = useState(SHOWN_EVENTS);
  const needle = text.trim().toLowerCase();
  const shown = events.filter(
    (e) =>
      EVENT_GROUPS[group]!(e.type) &&
      (needle === "" ||
        e.type.toLowerCase().includes(needle) ||
        JSON.stringify(e.body).toLowerCase().includes(needle)),
  );
  const toggle = (seq: number) =>
    setOpen((s) => {
      const next = new Set(s);
      if (next.has(seq)) next.delete(seq);
      else next.add(seq);
      return next;
    });
  return (
    <div>
      <div className="filters">
        <select aria-label="Event kind" value={group} onChange={(e) => setGroup(e.target.value)}>
          {Object.keys(EVENT_GROUPS).map((g) => (
            <option key={g} value={g}>
              {g}
            </option>
          ))}
        </select>
        <input
          type="search"
          placeholder="Filter events…"
          aria-label="Filter events"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <button className="btn small" onClick={() => setOpen(new Set(shown.map((e) => e.seq)))}>
          Expand all
        </button>
        <button className="btn small" onClick={() => setOpen(new Set())}>
          Collapse all
        </button>
      </div>
      {shown.length === 0 ? (
        <div className="muted">No event matches.</div>
      ) : (
        <table className="table events" data-testid="history">
          <thead>
            <tr>
              <th className="num">seq</th>
              <th>event</th>
              <th>at</th>
              <th>summary</th>
            </tr>
          </thead>
          <tbody>
            {shown.slice(0, limit).map((e) => (
              <EventRow
                key={e.seq}
                event={e}
                open={open.has(e.seq)}
                onToggle={() => toggle(e.seq)}
              />
            ))}
          </tbody>
        </table>
      )}
      {shown.length > limit ? (
        <button className="btn small" onClick={() => setLimit((l) => l + SHOWN_EVENTS)}>
          Show {Math.min(SHOWN_EVENTS, shown.length - limit)} more of {shown.length - limit}
        </button>
      ) : null}
    </div>
  );
}

function EventRow({
  event,
  open,
  onToggle,
}: {
  event: HistoryEvent;
  open: boolean;
  onToggle: () => void;
}) {
  return (
    <>
      <tr className="event-row" data-event={event.type} onClick={onToggle} aria-expanded={open}>
        <td className="num">{event.seq}</td>
        <td>
          <span className="caret">{open ? "▾" : "▸"}</span>{" "}
          <span
            className={`event-type e-${/^(Workflow|Step|Timer|Signal)/.exec(event.type)?.[1] ?? "Other"}`}
          >
            {event.type}
          </span>
        </td>
        <td>
          <Time iso={event.at} />
        </td>
        <td className="summary">{summarize(event)}</td>
      </tr>
      {open ? (
        <tr className="event-body">
          <td />
          <td colSpan={3}>
            <JsonView value={event.body} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function summarize(e: HistoryEvent): string {
  const b = e.body;
  const parts: string[] = [];
  if (typeof b.stepName === "string") parts.push(b.stepName);
  if (typeof b.stepSeq === "number") parts.push(`#${b.stepSeq}`);
  if (typeof b.attempt === "number") parts.push(`attempt ${b.attempt}`);
  if (typeof b.taskQueue === "string") parts.push(`queue ${b.taskQueue}`);
  if (typeof b.workerId === "string") parts.push(`worker ${b.workerId}`);
  if (typeof b.signalName === "string") parts.push(`“${b.signalName}”`);
  if (typeof b.workflowType === "string") parts.push(b.workflowType);
  if (b.error != null) parts.push(errorMessage(b.error));
  if (typeof b.reason === "string") parts.push(b.reason);
  if (b.terminated === true) parts.push("terminated: no cleanup ran");
  if (typeof b.reusedFrom === "string") parts.push(`result reused from ${b.reusedFrom}`);
  return parts.join(" · ");
}

function Actions({ run, onDone }: { run: WorkflowDetail; onDone: () => void }) {
  const [dialog, setDialog] = useState<"signal" | "cancel" | RunOperation>();
  const [sent, setSent] = useState<string>();
  const open = OPEN.has(run.status);
  useEffect(() => {
    if (sent === undefined) return;
    const timer = setTimeout(() => setSent(undefined), 8000);
    return () => clearTimeout(timer);
  }, [sent]);
  return (
    <div className="actions">
      {sent !== undefined ? (
        <div className="ok notice" role="status" data-testid="signal-sent">
          Signal “{sent}” sent: the history shows it once the decider has applied it.
        </div>
      ) : null}
      <button
        className="btn"
        disabled={!open}
        onClick={() => setDialog("signal")}
        title={open ? undefined : "The run is closed"}
      >
        Signal…
      </button>
      <button
        className="btn danger"
        disabled={!open}
        onClick={() => setDialog("cancel")}
        title={open ? undefined : "The run is closed"}
      >
        Cancel run…
      </button>
      <button
        className="btn danger"
        disabled={!open}
        onClick={() => setDialog("terminate")}
        title={open ? "Close it now without running its cleanup" : "The run is closed"}
      >
        Terminate…
      </button>
      <button className="btn" onClick={() => setDialog("rerun")}>
        Re-run…
      </button>
      <button
        className="btn"
        disabled={open || run.steps.length === 0}
        onClick={() => setDialog("reset")}
        title={open ? "The run is still open" : undefined}
      >
        Reset to step…
      </button>
      {dialog === "signal" ? (
        <SignalDialog
          run={run}
          onClose={() => setDialog(undefined)}
          onSent={(name) => {
            setDialog(undefined);
            setSent(name);
            onDone();
          }}
        />
      ) : null}
      {dialog === "cancel" ? (
        <CancelDialog run={run} onClose={() => setDialog(undefined)} onDone={onDone} />
      ) : null}
      {dialog === "terminate" || dialog === "rerun" || dialog === "reset" ? (
        <RunOperationDialog
          run={run}
          operation={dialog}
          onClose={() => setDialog(undefined)}
          onDone={onDone}
        />
      ) : null}
    </div>
  );
}

function useMutation() {
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const run = async (query: string, variables: Record<string, unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await request(query, variables);
      return true;
    } catch (err) {
      setError(err as Error);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { error, setError, busy, run };
}

/** Closes once the API has taken the signal; on an error it stays open and says which. */
function SignalDialog({
  run,
  onClose,
  onSent,
}: {
  run: WorkflowDetail;
  onClose: () => void;
  onSent: (name: string) => void;
}) {
  const waiting = run.waitingOn.find((w) => w.kind === "signal");
  const [name, setName] = useState(waiting?.kind === "signal" ? waiting.signalName : "");
  const [payload, setPayload] = useState("{}");
  const m = useMutation();
  return (
    <Modal title={`Signal ${run.id}`} onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          let parsed: unknown;
          try {
            parsed = payload.trim() === "" ? null : JSON.parse(payload);
          } catch (err) {
            m.setError(
              new ApiError(`the payload is not JSON: ${(err as Error).message}`, "INVALID_INPUT"),
            );
            return;
          }
          void m.run(SIGNAL_WORKFLOW, { workflowId: run.id, name, payload: parsed }).then((ok) => {
            if (ok) onSent(name);
          });
        }}
      >
        <label>
          Signal name
          <input
            name="name"
            value={name}
            required
            onChange={(e) => setName(e.target.value)}
            autoFocus
          />
        </label>
        <label>
          Payload (JSON)
          <textarea
            name="payload"
            rows={5}
            className="mono"
            value={payload}
            onChange={(e) => setPayload(e.target.value)}
          />
        </label>
        {m.error ? <ErrorBox error={m.error} /> : null}
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>
            Close
          </button>
          <button type="submit" className="btn primary" disabled={m.busy || name.trim() === ""}>
            Send signal
          </button>
        </div>
      </form>
    </Modal>
  );
}

function CancelDialog({
  run,
  onClose,
  onDone,
}: {
  run: WorkflowDetail;
  onClose: () => void;
  onDone: () => void;
}) {
  const [reason, setReason] = useState("");
  const m = useMutation();
  return (
    <Modal title="Cancel this run?" onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void m
            .run(CANCEL_WORKFLOW, { workflowId: run.id, reason: reason.trim() || null })
            .then((ok) => {
              if (ok) {
                onDone();
                onClose();
              }
            });
        }}
      >
        <p>
          <Mono>{run.id}</Mono> ({run.type}) stops for good: its open steps are cancelled and its
          workflow code does not run again. This cannot be undone.
        </p>
        <label>
          Reason <span className="muted">(recorded in history)</span>
          <input name="reason" value={reason} onChange={(e) => setReason(e.target.value)} />
        </label>
        {m.error ? <ErrorBox error={m.error} /> : null}
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>
            Keep running
          </button>
          <button type="submit" className="btn danger" disabled={m.busy}>
            Cancel the run
          </button>
        </div>
      </form>
    </Modal>
  );
}
