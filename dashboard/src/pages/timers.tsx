import { PENDING_TIMERS, STATS_TICK } from "../api/documents";
import { useNow, useQuery, useSubscription, useThrottled } from "../api/hooks";
import type { PendingTimer } from "../api/types";
import { Empty, ErrorBox, Loading, Time } from "../components/common";
import { formatAbsolute, formatDuration } from "../format";
import { Link, runPath } from "../router";

const KIND_LABEL: Record<string, string> = {
  sleep: "sleep",
  signal_timeout: "signal timeout",
  retry: "retry delay",
  step_timeout: "step timeout",
};

export function Timers() {
  const query = useQuery<{ pendingTimers: PendingTimer[] }>(PENDING_TIMERS, { first: 200 });
  const refetch = useThrottled(query.refetch, 1000);
  const liveError = useSubscription(STATS_TICK, {}, refetch);
  const rows = query.data?.pendingTimers;
  return (
    <div className="page" data-page="timers">
      <header className="page-head">
        <h1>Timers</h1>
        <span className="muted">pending, soonest first</span>
      </header>
      {query.error ? <ErrorBox error={query.error} onRetry={query.refetch} /> : null}
      {liveError ? <ErrorBox error={liveError} /> : null}
      {!rows ? (
        query.error ? null : (
          <Loading what="timers" />
        )
      ) : rows.length === 0 ? (
        <Empty title="No pending timers">
          Durable waits appear here until they fire: <code>ctx.wait(ms)</code>, signal timeouts,
          retry delays and step timeouts.
        </Empty>
      ) : (
        <table className="table cards-sm cards-3" data-ready="true">
          <thead>
            <tr>
              <th>fires</th>
              <th>due at</th>
              <th>kind</th>
              <th>run</th>
              <th>type</th>
              <th className="num">seq</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <tr key={`${t.workflowId}/${t.kind}/${t.seq}/${t.attempt}`} data-timer={t.workflowId}>
                <td data-label="fires">
                  <Countdown iso={t.dueAt} />
                </td>
                <td data-label="due at">
                  <Time iso={t.dueAt} />
                </td>
                <td data-label="kind">{KIND_LABEL[t.kind] ?? t.kind}</td>
                <td data-label="run" className="wide">
                  <Link to={runPath(t.workflowId)} className="mono">
                    {t.workflowId}
                  </Link>
                </td>
                <td data-label="type">{t.workflowType}</td>
                <td data-label="seq" className="num">
                  {t.seq}
                  {t.kind === "retry" || t.kind === "step_timeout" ? (
                    <span className="muted"> a{t.attempt}</span>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Countdown({ iso }: { iso: string }) {
  const now = useNow();
  const ms = Date.parse(iso) - now;
  return (
    <span className={ms <= 0 ? "countdown due" : "countdown"} title={formatAbsolute(iso)}>
      {ms <= 0 ? "due now" : ms < 60_000 ? `${Math.ceil(ms / 1000)} s` : formatDuration(ms)}
    </span>
  );
}
