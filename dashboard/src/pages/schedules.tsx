import { useNow, useQuery, useSubscription, useThrottled } from "../api/hooks";
import { Empty, ErrorBox, Loading, Time } from "../components/common";
import { formatAbsolute, formatDuration } from "../format";
import { Link, runPath } from "../router";

/** Kept with the page: the schedules' documents and types are theirs alone. */
const SCHEDULES = `query Schedules($first: Int) {
  schedules(first: $first) {
    name workflowId status spec workflowType overlap catchupWindowMs paused note
    nextTicks runsStarted ticksSkipped ticksMissed buffered recentRuns { tick workflowId } lastError
  }
}`;
/** A schedule's run changes at each tick and each signal: the page reads the list again then. */
const SCHEDULE_RUN_UPDATED = `subscription ScheduleRunUpdated {
  workflowUpdated(filter: { type: "weft.schedule" }) { id }
}`;

interface ScheduleRow {
  name: string;
  workflowId: string;
  status: string;
  spec: { cron?: string; everyMs?: number; offsetMs?: number } | null;
  workflowType: string | null;
  overlap: string | null;
  catchupWindowMs: number | null;
  paused: boolean;
  note: string | null;
  nextTicks: string[];
  runsStarted: number;
  ticksSkipped: number;
  ticksMissed: number;
  buffered: string | null;
  recentRuns: { tick: string; workflowId: string }[];
  lastError: string | null;
}

function specText(spec: ScheduleRow["spec"]): string {
  if (!spec) return "–";
  if (spec.cron !== undefined) return `${spec.cron} (UTC)`;
  return `every ${formatDuration(spec.everyMs ?? 0)}`;
}

export function Schedules() {
  const query = useQuery<{ schedules: ScheduleRow[] }>(SCHEDULES, { first: 50 });
  const refetch = useThrottled(query.refetch, 1000);
  const liveError = useSubscription(SCHEDULE_RUN_UPDATED, {}, refetch);
  const rows = query.data?.schedules;
  return (
    <div className="page" data-page="schedules">
      <header className="page-head">
        <h1>Schedules</h1>
        <span className="muted">
          cron and interval schedules that run, newest first (the first 50)
        </span>
      </header>
      {query.error ? <ErrorBox error={query.error} onRetry={query.refetch} /> : null}
      {liveError ? <ErrorBox error={liveError} /> : null}
      {!rows ? (
        query.error ? null : (
          <Loading what="schedules" />
        )
      ) : rows.length === 0 ? (
        <Empty title="No schedules">
          Make one with <code>weft schedule create</code>, the <code>createSchedule</code> mutation
          or <code>client.schedules.create</code>; deciders and workers host them with{" "}
          <code>--schedules</code>.
        </Empty>
      ) : (
        <table className="table cards-sm cards-3" data-ready="true">
          <thead>
            <tr>
              <th>name</th>
              <th>spec</th>
              <th>starts</th>
              <th>next tick</th>
              <th>overlap</th>
              <th className="num">runs</th>
              <th className="num">skipped</th>
              <th className="num">missed</th>
              <th>last run</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => {
              const last = s.recentRuns.at(-1);
              return (
                <tr key={s.workflowId} data-schedule={s.name}>
                  <td data-label="name" className="wide">
                    <Link to={runPath(s.workflowId)} className="mono" title={s.note ?? undefined}>
                      {s.name}
                    </Link>
                    {s.paused ? (
                      <>
                        {" "}
                        <span className="badge">paused</span>
                      </>
                    ) : null}
                    {s.lastError ? (
                      <div className="muted" title={s.lastError}>
                        ⚠ {s.lastError}
                      </div>
                    ) : null}
                  </td>
                  <td data-label="spec" className="mono">
                    {specText(s.spec)}
                  </td>
                  <td data-label="starts">{s.workflowType ?? "–"}</td>
                  <td data-label="next tick">
                    {s.nextTicks[0] ? <NextTick iso={s.nextTicks[0]} /> : "–"}
                  </td>
                  <td data-label="overlap">
                    {s.overlap?.toLowerCase() ?? "–"}
                    {s.buffered ? <span className="muted"> (1 buffered)</span> : null}
                  </td>
                  <td data-label="runs" className="num">
                    {s.runsStarted}
                  </td>
                  <td data-label="skipped" className="num">
                    {s.ticksSkipped}
                  </td>
                  <td data-label="missed" className="num">
                    {s.ticksMissed}
                  </td>
                  <td data-label="last run">
                    {last ? (
                      <Link to={runPath(last.workflowId)} className="mono">
                        <Time iso={last.tick} />
                      </Link>
                    ) : (
                      "–"
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}

function NextTick({ iso }: { iso: string }) {
  const now = useNow();
  const ms = Date.parse(iso) - now;
  return (
    <span className="countdown" title={formatAbsolute(iso)}>
      {ms <= 0
        ? "due now"
        : ms < 60_000
          ? `in ${Math.ceil(ms / 1000)} s`
          : `in ${formatDuration(ms)}`}
    </span>
  );
}
