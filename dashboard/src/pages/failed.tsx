import { Fragment, useState } from "react";
import { FAILED_STEPS, STATS_TICK, WORKFLOW_TYPES } from "../api/documents";
import { useQuery, useSubscription, useThrottled } from "../api/hooks";
import type { FailedStep } from "../api/types";
import { Empty, ErrorBox, Loading, Mono, StatusBadge, Time } from "../components/common";
import { StackView } from "../components/error-view";
import { errorCode, errorMessage, errorName, errorStack } from "../format";
import { Link, runPath } from "../router";

export function Failed() {
  const [type, setType] = useState("");
  const query = useQuery<{ failedSteps: FailedStep[] }>(FAILED_STEPS, {
    first: 100,
    workflowType: type || null,
  });
  // Refreshed when the read models change (the stats feed ticks at most once a second).
  const refetch = useThrottled(query.refetch, 1000);
  const liveError = useSubscription(STATS_TICK, {}, refetch);
  const types = useQuery<{ definitions: { name: string }[] }>(WORKFLOW_TYPES);
  const [open, setOpen] = useState<string>();
  const rows = query.data?.failedSteps;
  return (
    <div className="page" data-page="failed">
      <header className="page-head">
        <h1>Failed steps</h1>
        <select aria-label="Workflow type" value={type} onChange={(e) => setType(e.target.value)}>
          <option value="">all workflow types</option>
          {[...new Set(types.data?.definitions.map((d) => d.name) ?? [])].sort().map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
      </header>
      {query.error ? <ErrorBox error={query.error} onRetry={query.refetch} /> : null}
      {liveError ? <ErrorBox error={liveError} /> : null}
      {!rows ? (
        query.error ? null : (
          <Loading what="failed steps" />
        )
      ) : rows.length === 0 ? (
        <Empty title="No failed steps">
          Step attempts that fail or time out appear here, newest first — including attempts that
          were retried and later succeeded.
        </Empty>
      ) : (
        <table className="table cards-sm cards-3" data-ready="true">
          <thead>
            <tr>
              <th>failed</th>
              <th>run</th>
              <th>step</th>
              <th className="num">attempt</th>
              <th>status</th>
              <th>error</th>
              <th>worker</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((f) => {
              const key = `${f.workflowId}/${f.stepSeq}/${f.attempt}`;
              const stack = errorStack(f.error);
              const code = errorCode(f.error);
              const name = errorName(f.error);
              return (
                <Fragment key={key}>
                  <tr data-failed={f.workflowId} data-step={f.stepName}>
                    <td data-label="failed">
                      <Time iso={f.finishedAt} />
                    </td>
                    <td data-label="run" className="wide">
                      <Link to={runPath(f.workflowId)} className="mono">
                        {f.workflowId}
                      </Link>
                      <div className="muted small">{f.workflowType}</div>
                    </td>
                    <td data-label="step">
                      {f.stepName} <span className="muted">#{f.stepSeq}</span>
                      <div className="muted small">queue {f.taskQueue}</div>
                    </td>
                    <td data-label="attempt" className="num">
                      {f.attempt}
                    </td>
                    <td data-label="status">
                      <StatusBadge status={f.status} />
                    </td>
                    <td data-label="error" className="error-cell wide">
                      {name ? <span className="error-name">{name}</span> : null}
                      {code ? <span className="code">{code}</span> : null}{" "}
                      <span className="error-message">{errorMessage(f.error)}</span>
                      {stack ? (
                        <button
                          className="btn ghost small"
                          aria-expanded={open === key}
                          onClick={() => setOpen(open === key ? undefined : key)}
                        >
                          {open === key ? "hide stack" : "stack"}
                        </button>
                      ) : null}
                    </td>
                    <td data-label="worker" className="wide">
                      {f.workerId ? (
                        <Mono>{f.workerId}</Mono>
                      ) : (
                        <span className="muted">decider (timeout)</span>
                      )}
                    </td>
                  </tr>
                  {open === key && stack ? (
                    <tr key={`${key}-stack`} className="stack-row" data-stack-of={f.workflowId}>
                      <td colSpan={7} className="wide">
                        <StackView stack={stack} name={name} message={errorMessage(f.error)} />
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
