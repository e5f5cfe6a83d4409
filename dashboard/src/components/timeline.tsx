import { Fragment } from "react";
import type { StepAttempt, Timer } from "../api/types";
import { useNow } from "../api/hooks";
import { formatAbsolute, formatDuration } from "../format";
import { statusClass } from "./common";
import { AttemptLogs } from "./step-logs";

/** Each attempt as a bar on the run's time axis: waiting in the queue (pale), then running. */
export function AttemptTimeline(props: {
  startedAt: string;
  closedAt: string | null;
  steps: readonly StepAttempt[];
  timers: readonly Timer[];
}) {
  const now = useNow();
  const t0 = Date.parse(props.startedAt);
  // To the close (or now), and far enough to hold every attempt and a pending timer's due time.
  const seen = [
    ...props.steps.flatMap((a) => [a.scheduledAt, a.startedAt, a.finishedAt]),
    ...props.timers.flatMap((t) => [t.dueAt, t.firedAt]),
  ].map((iso) => (iso ? Date.parse(iso) : 0));
  const t1 = Math.max(props.closedAt ? Date.parse(props.closedAt) : now, t0 + 1, ...seen);
  const span = t1 - t0;
  const pct = (t: number) => `${Math.max(0, Math.min(100, ((t - t0) / span) * 100))}%`;
  const width = (a: number, b: number) => {
    const left = Math.max(0, Math.min(100, ((a - t0) / span) * 100));
    return `${Math.min(100 - left, Math.max(0.4, ((b - a) / span) * 100))}%`;
  };
  const attempts = props.steps
    .slice()
    .sort(
      (a, b) =>
        a.scheduledAt.localeCompare(b.scheduledAt) ||
        a.stepSeq - b.stepSeq ||
        a.attempt - b.attempt,
    );
  const sleeps = props.timers.filter((t) => t.kind === "sleep" || t.kind === "retry");
  if (attempts.length === 0 && sleeps.length === 0) {
    return <div className="muted">Nothing ran yet.</div>;
  }
  return (
    <div className="timeline" data-testid="timeline">
      <div className="timeline-axis">
        <span>0</span>
        <span>{formatDuration(span)}</span>
      </div>
      {attempts.map((a) => {
        const scheduled = Date.parse(a.scheduledAt);
        const started = a.startedAt ? Date.parse(a.startedAt) : null;
        const finished = a.finishedAt
          ? Date.parse(a.finishedAt)
          : a.status === "started" || a.status === "scheduled"
            ? now
            : null;
        const runEnd = finished ?? started ?? scheduled;
        return (
          <Fragment key={`${a.stepSeq}-${a.attempt}`}>
            <div className="timeline-row" data-attempt={`${a.stepName}#${a.stepSeq}.${a.attempt}`}>
              <div
                className="timeline-label"
                title={`${a.stepName} #${a.stepSeq}, attempt ${a.attempt}, queue ${a.taskQueue}`}
              >
                <span>{a.stepName}</span>{" "}
                <span className="muted">
                  #{a.stepSeq} a{a.attempt}
                </span>
              </div>
              <div className="timeline-track">
                <div
                  className="timeline-wait"
                  style={{ left: pct(scheduled), width: width(scheduled, started ?? runEnd) }}
                  title={`queued ${formatDuration((started ?? runEnd) - scheduled)} (scheduled ${formatAbsolute(a.scheduledAt)})`}
                />
                {started !== null ? (
                  <div
                    className={`timeline-bar ${statusClass(a.status)}`}
                    style={{ left: pct(started), width: width(started, runEnd) }}
                    title={`${a.status}: ran ${formatDuration(runEnd - started)}${a.workerId ? ` on ${a.workerId}` : ""}`}
                  />
                ) : null}
              </div>
              <div className="timeline-value">
                {a.durationMs !== null
                  ? formatDuration(a.durationMs)
                  : started !== null
                    ? formatDuration(runEnd - started)
                    : a.status}
              </div>
            </div>
            <AttemptLogs attempt={a} />
          </Fragment>
        );
      })}
      {sleeps.map((t) => {
        const due = Date.parse(t.dueAt);
        const end = t.firedAt ? Date.parse(t.firedAt) : due;
        return (
          <div className="timeline-row" key={`${t.kind}-${t.seq}-${t.attempt}`}>
            <div className="timeline-label">
              <span>{t.kind === "sleep" ? "sleep" : "retry delay"}</span>{" "}
              <span className="muted">#{t.seq}</span>
            </div>
            <div className="timeline-track">
              <div
                className={`timeline-timer ${statusClass(t.status)}`}
                style={{ left: pct(end), width: "2px" }}
                title={`${t.kind} due ${formatAbsolute(t.dueAt)}${t.firedAt ? `, fired ${formatAbsolute(t.firedAt)}` : ""}`}
              />
            </div>
            <div className="timeline-value">{t.status}</div>
          </div>
        );
      })}
    </div>
  );
}
