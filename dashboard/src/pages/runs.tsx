import { useEffect, useMemo, useRef, useState } from "react";
import {
  RUNS_PAGE_SIZE,
  START_WORKFLOW,
  WORKFLOW_TYPES,
  WORKFLOW_UPDATED,
  WORKFLOWS,
} from "../api/documents";
import { ApiError, request } from "../api/client";
import { useQuery, useSubscription } from "../api/hooks";
import { STATUSES, type RunRow, type WorkflowFilter, type WorkflowStatus } from "../api/types";
import {
  Elapsed,
  Empty,
  ErrorBox,
  Loading,
  Modal,
  StatusBadge,
  Time,
  useDataShownMark,
} from "../components/common";
import { mergeRows } from "../live-rows";
import { Link, navigate, runPath, useLocation } from "../router";

const PAGE_SIZE = RUNS_PAGE_SIZE;
const FLUSH_MS = 300;

interface RunsData {
  workflows: { nodes: RunRow[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } };
}

function filterFrom(search: URLSearchParams): WorkflowFilter {
  const filter: WorkflowFilter = {};
  const status = search.get("status");
  if (status && (STATUSES as readonly string[]).includes(status))
    filter.status = status as WorkflowStatus;
  for (const key of ["type", "text", "from", "to"] as const) {
    const value = search.get(key);
    if (value) filter[key] = key === "from" || key === "to" ? toIso(value) : value;
  }
  return filter;
}

function toIso(local: string): string {
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? local : date.toISOString();
}

function setParam(search: URLSearchParams, key: string, value: string | undefined): void {
  const next = new URLSearchParams(search);
  if (value) next.set(key, value);
  else next.delete(key);
  const qs = next.toString();
  navigate(qs ? `/runs?${qs}` : "/runs", { replace: key !== "status" });
}

export function Runs() {
  const { search } = useLocation();
  const filter = useMemo(() => filterFrom(search), [search]);
  const filterKey = JSON.stringify(filter);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1] ?? null;
  const [starting, setStarting] = useState(false);
  useEffect(() => setCursors([null]), [filterKey]);

  const query = useQuery<RunsData>(WORKFLOWS, { filter, first: PAGE_SIZE, after });
  // The page as the query returned it, then as live updates changed it. Until the first flush
  // after a (re)fetch, the rows are the query's own: no frame shows stale or empty rows.
  const [live, setLive] = useState<{ source?: RunsData; rows: RunRow[]; overflowed: boolean }>({
    rows: [],
    overflowed: false,
  });
  const source = query.data;
  const sourceRef = useRef(source);
  sourceRef.current = source;
  const current = live.source === source && source !== undefined;
  const rows = current ? live.rows : (source?.workflows.nodes ?? []);
  const hasNext = (source?.workflows.pageInfo.hasNextPage ?? false) || (current && live.overflowed);

  // Live: every change of a run that could belong here. The status is matched here, not by the
  // server, so a run that leaves this tab (running → completed) is seen leaving.
  const pending = useRef(new Map<string, RunRow>());
  const liveFilter = useMemo(() => {
    const { status: _status, ...rest } = filter;
    return rest;
  }, [filterKey]);
  const liveError = useSubscription<{ workflowUpdated: RunRow }>(
    WORKFLOW_UPDATED,
    { filter: liveFilter },
    ({ workflowUpdated: row }) => {
      const queued = pending.current.get(row.id);
      if (!queued || queued.lastSeq <= row.lastSeq) pending.current.set(row.id, row);
    },
  );
  const firstPage = cursors.length === 1;
  useEffect(() => {
    const timer = setInterval(() => {
      if (pending.current.size === 0) return;
      const updates = [...pending.current.values()];
      pending.current.clear();
      setLive((state) => {
        const base = sourceRef.current;
        if (!base) return state;
        const start =
          state.source === base ? state : { rows: base.workflows.nodes, overflowed: false };
        const merged = mergeRows(start.rows, updates, filter, firstPage, PAGE_SIZE);
        return {
          source: base,
          rows: merged.rows,
          overflowed: start.overflowed || merged.overflowed,
        };
      });
    }, FLUSH_MS);
    return () => clearInterval(timer);
  }, [filterKey, firstPage]);

  // Live inserts shift the first page, so its first cursor may point past rows pushed off the
  // end: going older from it asks for the first page's cursor as it is now.
  const older = async () => {
    let end = query.data?.workflows.pageInfo.endCursor ?? null;
    if (firstPage) {
      try {
        const fresh = await request<RunsData>(WORKFLOWS, { filter, first: PAGE_SIZE, after: null });
        end = fresh.workflows.pageInfo.endCursor;
      } catch {
        // Keep the cursor of the first paint.
      }
    }
    if (end) setCursors((c) => [...c, end]);
  };

  const types = useQuery<{ definitions: { name: string }[] }>(WORKFLOW_TYPES);
  const typeNames = [...new Set((types.data?.definitions ?? []).map((d) => d.name))].sort();
  const anyFilter = Object.keys(filter).some((k) => k !== "status");

  return (
    <div className="page" data-page="runs">
      <header className="page-head">
        <h1>Runs</h1>
        <button className="btn primary" onClick={() => setStarting(true)}>
          Start run
        </button>
      </header>
      <div className="tabs" role="tablist">
        {([undefined, ...STATUSES] as (WorkflowStatus | undefined)[]).map((s) => (
          <button
            key={s ?? "ALL"}
            role="tab"
            aria-selected={filter.status === s}
            className={filter.status === s ? "tab active" : "tab"}
            data-tab={s ?? "ALL"}
            onClick={() => setParam(search, "status", s)}
          >
            {s ? s.toLowerCase() : "all"}
          </button>
        ))}
      </div>
      <Filters search={search} types={typeNames} />
      {query.error ? <ErrorBox error={query.error} onRetry={query.refetch} /> : null}
      {liveError ? <ErrorBox error={liveError} /> : null}
      {!query.data && !query.error ? (
        <Loading what="runs" />
      ) : rows.length === 0 && query.data ? (
        anyFilter || filter.status ? (
          <Empty title="No runs match these filters">
            New runs that match appear here as they start.{" "}
            {anyFilter ? (
              <button
                className="btn small"
                onClick={() => navigate(filter.status ? `/runs?status=${filter.status}` : "/runs")}
              >
                Clear filters
              </button>
            ) : null}
          </Empty>
        ) : (
          <Empty title="No runs yet">
            Start one with “Start run” above or <code>npx weft workflow start &lt;type&gt;</code>;
            it appears here live.
          </Empty>
        )
      ) : (
        <RunTable rows={rows} />
      )}
      <div className="pager">
        <button
          className="btn small"
          disabled={cursors.length === 1}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          ← Newer
        </button>
        <span className="muted">page {cursors.length}</span>
        <button
          className="btn small"
          disabled={!hasNext || !query.data?.workflows.pageInfo.endCursor}
          onClick={() => void older()}
        >
          Older →
        </button>
      </div>
      {starting ? <StartDialog types={typeNames} onClose={() => setStarting(false)} /> : null}
    </div>
  );
}

function Filters({ search, types }: { search: URLSearchParams; types: string[] }) {
  const [text, setText] = useState(search.get("text") ?? "");
  useEffect(() => {
    const current = search.get("text") ?? "";
    if (text === current) return;
    const timer = setTimeout(() => setParam(search, "text", text.trim() || undefined), 300);
    return () => clearTimeout(timer);
  }, [text, search]);
  return (
    <div className="filters">
      <input
        type="search"
        placeholder="Workflow ID or type contains…"
        aria-label="Search by workflow ID"
        value={text}
        onChange={(e) => setText(e.target.value)}
      />
      <select
        aria-label="Workflow type"
        value={search.get("type") ?? ""}
        onChange={(e) => setParam(search, "type", e.target.value || undefined)}
      >
        <option value="">all types</option>
        {types.map((t) => (
          <option key={t} value={t}>
            {t}
          </option>
        ))}
        {search.get("type") && !types.includes(search.get("type")!) ? (
          <option value={search.get("type")!}>{search.get("type")}</option>
        ) : null}
      </select>
      <label className="inline">
        started from
        <input
          type="datetime-local"
          value={search.get("from") ?? ""}
          onChange={(e) => setParam(search, "from", e.target.value || undefined)}
        />
      </label>
      <label className="inline">
        to
        <input
          type="datetime-local"
          value={search.get("to") ?? ""}
          onChange={(e) => setParam(search, "to", e.target.value || undefined)}
        />
      </label>
    </div>
  );
}

export function RunTable({ rows }: { rows: RunRow[] }) {
  useDataShownMark();
  return (
    <table className="table runs-table cards-sm" data-ready="true">
      <thead>
        <tr>
          <th>workflow ID</th>
          <th>type</th>
          <th>status</th>
          <th>started</th>
          <th>duration</th>
          <th className="num">events</th>
          <th>updated</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.id} data-run={r.id} data-status={r.status}>
            <td className="wide run-id-cell">
              <Link to={runPath(r.id)} className="mono">
                {r.id}
              </Link>
            </td>
            <td data-label="type">{r.type}</td>
            <td data-label="status">
              <StatusBadge status={r.status} />
            </td>
            <td data-label="started">
              <Time iso={r.startedAt} />
            </td>
            <td data-label="duration">
              <Elapsed from={r.startedAt} to={r.closedAt} />
            </td>
            <td data-label="events" className="num">
              {r.lastSeq}
            </td>
            <td data-label="updated" key={r.updatedAt} className="flash">
              <Time iso={r.updatedAt} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function StartDialog({ types, onClose }: { types: string[]; onClose: () => void }) {
  const [type, setType] = useState(types[0] ?? "");
  const [id, setId] = useState("");
  const [input, setInput] = useState("{}");
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    let parsed: unknown;
    try {
      parsed = input.trim() === "" ? null : JSON.parse(input);
    } catch (err) {
      setError(new ApiError(`the input is not JSON: ${(err as Error).message}`, "INVALID_INPUT"));
      return;
    }
    setBusy(true);
    try {
      const data = await request<{ startWorkflow: { workflowId: string } }>(START_WORKFLOW, {
        type,
        workflowId: id.trim() || null,
        input: parsed,
      });
      onClose();
      navigate(runPath(data.startWorkflow.workflowId));
    } catch (err) {
      setError(err as Error);
      setBusy(false);
    }
  };
  return (
    <Modal title="Start a run" onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label>
          Workflow type
          <input
            name="type"
            list="workflow-types"
            value={type}
            required
            onChange={(e) => setType(e.target.value)}
          />
          <datalist id="workflow-types">
            {types.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label>
          Workflow ID <span className="muted">(optional: one is generated)</span>
          <input
            name="workflowId"
            value={id}
            onChange={(e) => setId(e.target.value)}
            className="mono"
          />
        </label>
        <label>
          Input (JSON)
          <textarea
            name="input"
            rows={6}
            className="mono"
            value={input}
            onChange={(e) => setInput(e.target.value)}
          />
        </label>
        {error ? <ErrorBox error={error} /> : null}
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={busy || type === ""}>
            Start
          </button>
        </div>
      </form>
    </Modal>
  );
}
