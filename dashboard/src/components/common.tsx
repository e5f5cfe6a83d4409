import { Component, useEffect, useRef, type ErrorInfo, type ReactNode } from "react";
import type { ApiError } from "../api/client";
import { useNow } from "../api/hooks";
import { formatAbsolute, formatDuration, formatRelative } from "../format";

/**
 * Marks the moment a page first shows its data (`performance` entry "weft:data"): the
 * benchmark reads it as the page's first paint with data, counted from navigation start.
 */
export function useDataShownMark(): void {
  useEffect(() => {
    if (performance.getEntriesByName("weft:data").length === 0) performance.mark("weft:data");
  }, []);
}

/** A relative time that stays current, the absolute time on hover. */
export function Time({ iso, empty = "–" }: { iso: string | null | undefined; empty?: string }) {
  const now = useNow();
  if (!iso) return <span className="muted">{empty}</span>;
  return (
    <time dateTime={iso} title={formatAbsolute(iso)}>
      {formatRelative(iso, now)}
    </time>
  );
}

/** How long from `from` to `to` (or to now while open). */
export function Elapsed({ from, to }: { from: string | null; to?: string | null }) {
  const now = useNow();
  if (!from) return <span className="muted">–</span>;
  const end = to ? Date.parse(to) : now;
  return (
    <span title={to ? undefined : "still going"}>{formatDuration(end - Date.parse(from))}</span>
  );
}

const STATUS_CLASS: Record<string, string> = {
  PENDING: "pending",
  RUNNING: "running",
  BLOCKED: "blocked",
  COMPLETED: "completed",
  FAILED: "failed",
  CANCELLED: "cancelled",
  SCHEDULED: "pending",
  STARTED: "running",
  TIMED_OUT: "failed",
  RETRYING: "blocked",
  FIRED: "completed",
  ALIVE: "completed",
  STALE: "blocked",
  STOPPED: "cancelled",
  READY: "completed",
  STALLED: "failed",
  SILENT: "blocked",
};

/** The status pill: the same colour for a status on every page. */
export function StatusBadge({ status }: { status: string }) {
  const upper = status.toUpperCase();
  const cls = STATUS_CLASS[upper] ?? "cancelled";
  return (
    <span className={`badge s-${cls}`} data-status={upper}>
      {upper.replace("_", " ").toLowerCase()}
    </span>
  );
}

export function statusClass(status: string): string {
  return `s-${STATUS_CLASS[status.toUpperCase()] ?? "cancelled"}`;
}

export function Mono({ children, title }: { children: ReactNode; title?: string }) {
  return (
    <code className="mono" title={title}>
      {children}
    </code>
  );
}

export function JsonView({ value, empty = "none" }: { value: unknown; empty?: string }) {
  if (value === undefined || value === null) return <span className="muted">{empty}</span>;
  return <pre className="json">{JSON.stringify(value, null, 2)}</pre>;
}

const CODE_HINT: Record<string, string> = {
  UNAUTHENTICATED: "The API needs a token: enter one with “API token” in the left bar.",
  FORBIDDEN:
    "This token is read-only: it can watch runs but not start, signal or cancel them. Enter a token with write access.",
  NETWORK: "Is the Weft API running? The page retries when you reload it.",
};

export function ErrorBox({ error, onRetry }: { error: ApiError | Error; onRetry?: () => void }) {
  const code = (error as ApiError).code;
  return (
    <div className="error-box" role="alert">
      <strong>{code ? `${code}: ` : ""}</strong>
      {error.message}
      {code && CODE_HINT[code] ? <div className="hint">{CODE_HINT[code]}</div> : null}
      {onRetry ? (
        <button className="btn small" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <div className="empty-title">{title}</div>
      {children ? <div className="empty-body">{children}</div> : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <div className="loading">Loading {what}…</div>;
}

export function Panel(props: {
  title: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  id?: string;
}) {
  return (
    <section className="panel" id={props.id}>
      <header className="panel-head">
        <h2>{props.title}</h2>
        {props.actions ? <div className="panel-actions">{props.actions}</div> : null}
      </header>
      <div className="panel-body">{props.children}</div>
    </section>
  );
}

export function Modal(props: { title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  return (
    <dialog ref={ref} className="modal" onClose={props.onClose} aria-label={props.title}>
      <header className="modal-head">
        <h2>{props.title}</h2>
        <button className="btn ghost" aria-label="Close" onClick={props.onClose}>
          ×
        </button>
      </header>
      {props.children}
    </dialog>
  );
}

/** A page that throws shows what went wrong instead of a blank page. */
export class ErrorBoundary extends Component<
  { children: ReactNode; resetKey: string },
  { error?: Error; resetKey: string }
> {
  override state: { error?: Error; resetKey: string } = { resetKey: this.props.resetKey };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  static getDerivedStateFromProps(
    props: { resetKey: string },
    state: { error?: Error; resetKey: string },
  ) {
    return props.resetKey !== state.resetKey
      ? { error: undefined, resetKey: props.resetKey }
      : null;
  }
  override componentDidCatch(error: Error, info: ErrorInfo) {
    console.error("dashboard page failed", error, info.componentStack);
  }
  override render() {
    if (this.state.error) {
      return (
        <div className="page">
          <ErrorBox error={this.state.error} onRetry={() => this.setState({ error: undefined })} />
        </div>
      );
    }
    return this.props.children;
  }
}
