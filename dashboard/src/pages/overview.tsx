import { useState } from "react";
import { FAILED_STEPS, STATS, STATS_LIVE } from "../api/documents";
import { useQuery, useSubscription, useThrottled } from "../api/hooks";
import { STATUSES, type FailedStep, type Stats } from "../api/types";
import { ThroughputChart } from "../components/chart";
import { ProjectorsPanel } from "../components/projectors";
import {
  Empty,
  ErrorBox,
  Loading,
  Panel,
  StatusBadge,
  Time,
  statusClass,
  useDataShownMark,
} from "../components/common";
import { errorMessage, errorName, formatCount } from "../format";
import { Link, runPath } from "../router";

export function Overview() {
  const first = useQuery<{ stats: Stats }>(STATS);
  const [live, setLive] = useState<Stats>();
  const failures = useQuery<{ failedSteps: FailedStep[] }>(FAILED_STEPS, { first: 8 });
  const refetchFailures = useThrottled(failures.refetch, 2000);
  const liveError = useSubscription<{ stats: Stats }>(STATS_LIVE, {}, (d) => {
    setLive(d.stats);
    refetchFailures();
  });
  const stats = live ?? first.data?.stats;

  return (
    <div className="page" data-page="overview">
      <header className="page-head">
        <h1>Overview</h1>
        {stats ? (
          <span className="muted">
            updated <Time iso={stats.at} />
          </span>
        ) : null}
      </header>
      {first.error && !stats ? <ErrorBox error={first.error} onRetry={first.refetch} /> : null}
      {liveError ? <ErrorBox error={liveError} /> : null}
      {!stats ? (
        first.error ? null : (
          <Loading what="stats" />
        )
      ) : (
        <OverviewBody stats={stats} failures={failures.data?.failedSteps} />
      )}
    </div>
  );
}

function OverviewBody({ stats, failures }: { stats: Stats; failures?: FailedStep[] }) {
  useDataShownMark();
  const count = (s: string) => stats.counts.find((c) => c.status === s)?.count ?? 0;
  const total = stats.counts.reduce((sum, c) => sum + c.count, 0);
  return (
    <div data-ready="true" className="stack-panels">
      <div className="cards">
        {STATUSES.map((s) => (
          <Link
            key={s}
            to={`/runs?status=${s}`}
            className={`card ${statusClass(s)}`}
            data-count={s}
          >
            <div className="card-label">
              <StatusBadge status={s} />
            </div>
            <div className="card-value">{formatCount(count(s))}</div>
          </Link>
        ))}
        <Link to="/timers" className="card">
          <div className="card-label">pending timers</div>
          <div className="card-value">{formatCount(stats.pendingTimers)}</div>
        </Link>
        <div className="card" title="Commands the deciders have not consumed yet">
          <div className="card-label">command backlog</div>
          <div className="card-value">{formatCount(stats.commandBacklog)}</div>
        </div>
        <div className="card" title="History events the projector has not stored yet">
          <div className="card-label">projector lag</div>
          <div className="card-value">{formatCount(stats.projectorLag)}</div>
        </div>
      </div>
      {total === 0 ? (
        <Empty title="No runs yet">
          Start one from <Link to="/runs">Runs</Link> (“Start run”), with{" "}
          <code>npx weft workflow start &lt;type&gt; --input '{"{}"}'</code>, or from your code with{" "}
          <code>client.start()</code>. Deciders and workers must host the type:{" "}
          <code>npx weft start module.ts</code>.
        </Empty>
      ) : null}
      <div className="grid-2">
        <Panel title="Throughput">
          <ThroughputChart points={stats.throughput} />
        </Panel>
        <Panel title="Backlog per task queue">
          {stats.backlog.length === 0 ? (
            <Empty title="No task queues yet">
              A queue appears once a step is scheduled on it.
            </Empty>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th>queue</th>
                  <th className="num">tasks waiting</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {stats.backlog.map((q) => (
                  <tr key={q.queue} data-queue={q.queue}>
                    <td>
                      <code className="mono">{q.queue}</code>
                    </td>
                    <td className="num">{formatCount(q.backlog)}</td>
                    <td className="bar-cell">
                      <div
                        className="bar"
                        style={{
                          width: `${Math.min(100, (q.backlog / Math.max(1, ...stats.backlog.map((b) => b.backlog))) * 100)}%`,
                        }}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Panel>
      </div>
      <ProjectorsPanel />
      <Panel title="Latest failed steps" actions={<Link to="/failed">all failed steps →</Link>}>
        {!failures ? (
          <span className="muted">–</span>
        ) : failures.length === 0 ? (
          <span className="muted">No step has failed.</span>
        ) : (
          <table className="table cards-sm">
            <tbody>
              {failures.map((f) => (
                <tr key={`${f.workflowId}/${f.stepSeq}/${f.attempt}`}>
                  <td>
                    <Time iso={f.finishedAt} />
                  </td>
                  <td className="wide">
                    <Link to={runPath(f.workflowId)} className="mono">
                      {f.workflowId}
                    </Link>
                  </td>
                  <td>
                    {f.stepName}{" "}
                    <span className="muted">
                      #{f.stepSeq} a{f.attempt}
                    </span>
                  </td>
                  <td className="error-cell wide">
                    {errorName(f.error) ? (
                      <span className="error-name">{errorName(f.error)}</span>
                    ) : null}
                    {errorMessage(f.error)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </div>
  );
}
