import { Fragment, useState } from "react";
import { PROJECTORS, PROJECTORS_LIVE } from "../api/documents";
import { useQuery, useSubscription } from "../api/hooks";
import type { ProjectorStatus } from "../api/types";
import { formatCount } from "../format";
import { Empty, ErrorBox, Mono, Panel, StatusBadge, Time } from "./common";

/**
 * Each projector as it last reported itself: ready, stalled (with the partition and the error)
 * or silent, and the records it sent to the DLQ and carried on past. Live: the list comes again
 * whenever a projector reports (every 2 s) or turns silent.
 */
export function ProjectorsPanel() {
  const first = useQuery<{ projectors: ProjectorStatus[] }>(PROJECTORS);
  const [live, setLive] = useState<ProjectorStatus[]>();
  const liveError = useSubscription<{ projectors: ProjectorStatus[] }>(PROJECTORS_LIVE, {}, (d) =>
    setLive(d.projectors),
  );
  const list = live ?? first.data?.projectors;
  return (
    <Panel title="Projector">
      {first.error && !list ? <ErrorBox error={first.error} onRetry={first.refetch} /> : null}
      {liveError ? <ErrorBox error={liveError} /> : null}
      {!list ? (
        <span className="muted">–</span>
      ) : list.length === 0 ? (
        <Empty title="No projector has reported">
          The read models are built by the projector role:{" "}
          <code>npx weft start --roles projector</code> (or <code>npx weft dev</code>). It reports
          here every 2 s.
        </Empty>
      ) : (
        <table className="table cards-sm" data-projectors="true">
          <thead>
            <tr>
              <th>state</th>
              <th>process</th>
              <th className="num">partitions</th>
              <th
                className="num"
                title="Records sent to the DLQ: recently / since the projector started"
              >
                dead letters
              </th>
              <th>last dead letter</th>
              <th>reported</th>
            </tr>
          </thead>
          <tbody>
            {list.map((p) => (
              <Fragment key={p.id}>
                <tr data-projector={p.id} data-state={p.state}>
                  <td data-label="state">
                    <StatusBadge status={p.state} />
                  </td>
                  <td data-label="process">
                    <Mono>{p.id}</Mono>
                  </td>
                  <td data-label="partitions" className="num">
                    {p.partitions}
                  </td>
                  <td
                    data-label="dead letters"
                    className="num"
                    data-dead-letters={p.deadLetters.recent}
                    title={`${p.deadLetters.recent} in the last ${p.deadLetters.recentMinutes} min, ${p.deadLetters.total} since it started`}
                  >
                    {formatCount(p.deadLetters.recent)}
                    <span className="muted"> / {formatCount(p.deadLetters.total)}</span>
                  </td>
                  <td
                    data-label="last dead letter"
                    className="error-cell wide"
                    data-last-dead-letter="true"
                  >
                    {p.deadLetters.last ? (
                      <>
                        <Mono
                          title={`${p.deadLetters.last.kind}: ${p.deadLetters.last.reason}`}
                        >{`${p.deadLetters.last.topic} #${p.deadLetters.last.partition} @ ${p.deadLetters.last.offset}`}</Mono>{" "}
                        {p.deadLetters.last.reason}{" "}
                        <span className="muted">
                          (<Time iso={p.deadLetters.last.at} />)
                        </span>
                      </>
                    ) : (
                      <span className="muted">none</span>
                    )}
                  </td>
                  <td data-label="reported">
                    <Time iso={p.reportedAt} />
                  </td>
                </tr>
                {p.stalled.map((s) => (
                  <tr
                    key={`${p.id}/${s.topic}/${s.partition}`}
                    data-stalled-partition={`${s.topic}/${s.partition}`}
                  >
                    <td />
                    <td colSpan={5} className="error-cell wide">
                      {s.error}{" "}
                      <span className="muted">
                        (since <Time iso={s.since} />)
                      </span>
                    </td>
                  </tr>
                ))}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}
