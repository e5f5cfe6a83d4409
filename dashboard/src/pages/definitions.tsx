import { DEFINITIONS, WORKERS_LIVE } from "../api/documents";
import { useQuery, useSubscription, useThrottled } from "../api/hooks";
import type { Definition } from "../api/types";
import { Empty, ErrorBox, Loading, Mono, Panel, Time } from "../components/common";
import { formatDuration } from "../format";

export function Definitions() {
  const query = useQuery<{ definitions: Definition[] }>(DEFINITIONS);
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
        <table className="table">
          <thead>
            <tr>
              <th>name</th>
              <th>version</th>
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
                <td>
                  <b>{d.name}</b>
                  {(versions.get(d.name) ?? 0) > 1 ? (
                    <span className="muted small"> · {versions.get(d.name)} versions</span>
                  ) : null}
                </td>
                <td>
                  <Mono title={d.hash}>{d.hash.slice(0, 12)}</Mono>
                </td>
                {steps ? (
                  <>
                    <td>
                      {d.taskQueue ? <Mono>{d.taskQueue}</Mono> : <span className="muted">–</span>}
                    </td>
                    <td>
                      {d.retry != null ? (
                        <code className="mono small">{JSON.stringify(d.retry)}</code>
                      ) : (
                        <span className="muted">default</span>
                      )}
                    </td>
                    <td>
                      {d.timeoutMs != null ? (
                        formatDuration(d.timeoutMs)
                      ) : (
                        <span className="muted">none</span>
                      )}
                    </td>
                  </>
                ) : null}
                <td>
                  {d.hosts.length === 0 ? (
                    <span className="muted">no live process</span>
                  ) : (
                    d.hosts.map((h) => <Mono key={h}>{h}</Mono>)
                  )}
                </td>
                <td>
                  <Time iso={d.firstSeenAt} />
                </td>
                <td>
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
