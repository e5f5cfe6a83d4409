import { useState } from "react";
import { WORKERS, WORKERS_LIVE } from "../api/documents";
import { useQuery, useSubscription } from "../api/hooks";
import type { WorkerProcess } from "../api/types";
import { Empty, ErrorBox, Loading, Mono, StatusBadge, Time } from "../components/common";

export function Workers() {
  const [includeStopped, setIncludeStopped] = useState(false);
  const query = useQuery<{ workers: WorkerProcess[] }>(WORKERS, { includeStopped });
  const [live, setLive] = useState<{ key: boolean; list: WorkerProcess[] }>();
  const liveError = useSubscription<{ workers: WorkerProcess[] }>(
    WORKERS_LIVE,
    { includeStopped },
    (d) => setLive({ key: includeStopped, list: d.workers }),
  );
  const list = live && live.key === includeStopped ? live.list : query.data?.workers;
  return (
    <div className="page" data-page="workers">
      <header className="page-head">
        <h1>Workers</h1>
        <label className="inline">
          <input
            type="checkbox"
            checked={includeStopped}
            onChange={(e) => setIncludeStopped(e.target.checked)}
          />{" "}
          show stopped
        </label>
      </header>
      {query.error && !list ? <ErrorBox error={query.error} onRetry={query.refetch} /> : null}
      {liveError ? <ErrorBox error={liveError} /> : null}
      {!list ? (
        query.error ? null : (
          <Loading what="processes" />
        )
      ) : list.length === 0 ? (
        <Empty title="No process has registered">
          Deciders and workers register here when they start: <code>npx weft start module.ts</code>.
        </Empty>
      ) : (
        <table className="table cards-sm" data-ready="true">
          <thead>
            <tr>
              <th>status</th>
              <th>process</th>
              <th>roles</th>
              <th>host · pid</th>
              <th>queues</th>
              <th>hosts</th>
              <th className="num">in flight</th>
              <th>started</th>
              <th>last heartbeat</th>
            </tr>
          </thead>
          <tbody>
            {list.map((w) => (
              <tr key={w.id} data-worker={w.id} data-status={w.status}>
                <td data-label="status">
                  <StatusBadge status={w.status} />
                </td>
                <td data-label="process" className="wide">
                  <Mono>{w.id}</Mono>
                </td>
                <td data-label="roles">{w.roles.join(", ")}</td>
                <td data-label="host · pid">
                  {w.host} · <Mono>{w.pid}</Mono>
                </td>
                <td data-label="queues">
                  {w.queues.length ? (
                    w.queues.map((q) => <Mono key={q}>{q}</Mono>)
                  ) : (
                    <span className="muted">–</span>
                  )}
                </td>
                <td
                  data-label="hosts"
                  title={[
                    ...w.workflows.map((n) => `workflow ${n}`),
                    ...w.steps.map((n) => `step ${n}`),
                  ].join("\n")}
                >
                  {w.workflows.length} workflows · {w.steps.length} steps
                </td>
                <td data-label="in flight" className="num">
                  {w.inFlight}
                  {w.concurrency != null ? <span className="muted"> / {w.concurrency}</span> : null}
                </td>
                <td data-label="started">
                  <Time iso={w.startedAt} />
                </td>
                <td data-label="last heartbeat">
                  <Time iso={w.status === "STOPPED" ? w.stoppedAt : w.lastSeenAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
