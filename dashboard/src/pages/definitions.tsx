import { DEFINITIONS, WORKERS_LIVE } from "../api/documents";
import { useQuery, useSubscription, useThrottled } from "../api/hooks";
import type { Definition, Trigger } from "../api/types";
import { Empty, ErrorBox, Loading, Mono, Panel, Time } from "../components/common";
import { formatDuration } from "../format";
import { describeRetry } from "../retry-policy";

export function Definitions() {
  const query = useQuery<{ definitions: Definition[]; triggers: Trigger[] }>(DEFINITIONS);
  // Hosts change when processes come and go: refresh on the process feed.
  const refetch = useThrottled(query.refetch, 2000);
  const liveError = useSubscription(WORKERS_LIVE, { includeStopped: false }, refetch);
  const list = query.data?.definitions;
  return (
    <div className="page" data-page="definitions">
      <header className="page-head">
        <h1>Definitions</h1>
        <span className="muted">workflow and step types as their processes registered them</span>
      </header>
      {query.error ? <ErrorBox error={query.error} onRetry={query.refetch} /> : null}
      {liveError ? <ErrorBox error={liveError} /> : null}
      {!list ? (
        query.error ? null : (
          <Loading what="definitions" />
        )
      ) : list.length === 0 ? (
        <Empty title="Nothing registered yet">
          A process registers the workflows and steps it hosts when it starts:{" "}
          <code>npx weft start module.ts</code>.
        </Empty>
      ) : (
        <div data-ready="true" className="stack-panels">
          <DefinitionTable title="Workflows" rows={list.filter((d) => d.kind === "WORKFLOW")} />
          <DefinitionTable title="Steps" rows={list.filter((d) => d.kind === "STEP")} steps />
          <TriggerTable rows={query.data?.triggers ?? []} />
        </div>
      )}
    </div>
  );
}

function DefinitionTable({
  title,
  rows,
  steps,
}: {
  title: string;
  rows: Definition[];
  steps?: boolean;
}) {
  const sorted = rows
    .slice()
    .sort((a, b) => a.name.localeCompare(b.name) || b.lastSeenAt.localeCompare(a.lastSeenAt));
  const versions = new Map<string, number>();
  for (const d of rows) versions.set(d.name, (versions.get(d.name) ?? 0) + 1);
  return (
    <Panel title={`${title} (${new Set(rows.map((r) => r.name)).size})`}>
      {sorted.length === 0 ? (
        <div className="muted">None registered.</div>
      ) : (
        <table className="table cards-sm">
          <thead>
            <tr>
              <th>name</th>
              <th>version</th>
              {steps ? null : <th className="num">open runs</th>}
              {steps ? (
                <>
                  <th>queue</th>
                  <th>retry</th>
                  <th>timeout</th>
                </>
              ) : null}
              <th>hosted by (alive)</th>
              <th>first seen</th>
              <th>last seen</th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((d) => (
              <tr
                key={`${d.name}/${d.hash}`}
                data-definition={d.name}
                className={d.hosts.length === 0 ? "dim" : undefined}
              >
                <td className="wide">
                  <b>{d.name}</b>
                  {(versions.get(d.name) ?? 0) > 1 ? (
                    <span className="muted small"> · {versions.get(d.name)} versions</span>
                  ) : null}
                </td>
                <td data-label="version">
                  <Mono title={d.hash}>{d.hash.slice(0, 12)}</Mono>
                </td>
                {steps ? null : (
                  <td
                    data-label="open runs"
                    className="num"
                    title="Runs open now that started under this version: old code can go once it is 0"
                  >
                    {d.openRuns ?? "–"}
                  </td>
                )}
                {steps ? (
                  <>
                    <td data-label="queue">
                      {d.taskQueue ? <Mono>{d.taskQueue}</Mono> : <span className="muted">–</span>}
                    </td>
                    <td data-label="retry" className="wide retry-cell">
                      <RetryPolicy retry={d.retry} />
                    </td>
                    <td data-label="timeout">
                      {d.timeoutMs != null ? (
                        formatDuration(d.timeoutMs)
                      ) : (
                        <span className="muted">none</span>
                      )}
                    </td>
                  </>
                ) : null}
                <td data-label="hosted by (alive)" className="wide">
                  {d.hosts.length === 0 ? (
                    <span className="muted">no live process</span>
                  ) : (
                    d.hosts.map((h) => <Mono key={h}>{h}</Mono>)
                  )}
                </td>
                <td data-label="first seen">
                  <Time iso={d.firstSeenAt} />
                </td>
                <td data-label="last seen">
                  <Time iso={d.lastSeenAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

const ACTIONS: Record<Trigger["action"], string> = {
  START: "starts",
  SIGNAL: "signals",
  SIGNAL_WITH_START: "signals or starts",
};

/** The triggers the API's process defines, with what they did since it started. */
function TriggerTable({ rows }: { rows: Trigger[] }) {
  return (
    <Panel title={`Triggers (${rows.length})`}>
      {rows.length === 0 ? (
        <div className="muted">
          None defined in the API&apos;s process (<code>defineTrigger</code>, docs/triggers.md).
        </div>
      ) : (
        <table className="table cards-sm">
          <thead>
            <tr>
              <th>name</th>
              <th>source</th>
              <th>does</th>
              <th>workflow ID from</th>
              <th className="num">accepted</th>
              <th className="num">refused</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <tr key={t.name} data-trigger={t.name}>
                <td className="wide">
                  <b>{t.name}</b> <span className="badge">{t.kind.toLowerCase()}</span>
                </td>
                <td data-label="source">
                  <Mono>{t.source}</Mono>
                  {t.format ? <span className="muted small"> · {t.format}</span> : null}
                </td>
                <td data-label="does">
                  {ACTIONS[t.action]} <b>{t.workflowType ?? "–"}</b>
                  {t.signal ? <span className="muted"> with {t.signal}</span> : null}
                </td>
                <td data-label="workflow ID from">
                  <Mono>{t.workflowId}</Mono>
                </td>
                <td data-label="accepted" className="num">
                  {t.accepted}
                </td>
                <td data-label="refused" className="num">
                  {t.refused}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

/** "5 attempts · 1 s → ×2 → max 30 s", and the policy as registered behind a toggle. */
function RetryPolicy({ retry }: { retry: unknown }) {
  const text = describeRetry(retry);
  if (retry == null) {
    return (
      <span
        className="retry-policy"
        data-retry="default"
        title="The step sets no retry policy: the engine's, unless its workflow or the call sets one"
      >
        <span className="muted">default:</span> <span className="retry-text">{text}</span>
      </span>
    );
  }
  return (
    <span
      className="retry-policy"
      data-retry="own"
      title="The step's own policy over the engine's defaults; a call's retry option overrides it"
    >
      <span className="retry-text">{text}</span>
      <details className="retry-json">
        <summary>JSON</summary>
        <code className="mono small">{JSON.stringify(retry, null, 2)}</code>
      </details>
    </span>
  );
}
