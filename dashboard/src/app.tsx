import { useState, type ReactNode } from "react";
import { tokens } from "./api/client";
import { useSocketState, useTokenNeeded } from "./api/hooks";
import { Empty, ErrorBoundary, Modal } from "./components/common";
import { Definitions } from "./pages/definitions";
import { Failed } from "./pages/failed";
import { Overview } from "./pages/overview";
import { RunDetail } from "./pages/run-detail";
import { Runs } from "./pages/runs";
import { Schedules } from "./pages/schedules";
import { Timers } from "./pages/timers";
import { Workers } from "./pages/workers";
import { Link, useLocation } from "./router";

const NAV: { path: string; label: string; icon: string }[] = [
  { path: "/", label: "Overview", icon: "◧" },
  { path: "/runs", label: "Runs", icon: "☰" },
  { path: "/failed", label: "Failed steps", icon: "⚠" },
  { path: "/workers", label: "Workers", icon: "⚙" },
  { path: "/timers", label: "Timers", icon: "◷" },
  { path: "/schedules", label: "Schedules", icon: "⟳" },
  { path: "/definitions", label: "Definitions", icon: "▤" },
];

function page(path: string): ReactNode {
  if (path === "/") return <Overview />;
  if (path === "/runs") return <Runs />;
  if (path.startsWith("/runs/")) {
    const id = decodeURIComponent(path.slice("/runs/".length));
    return <RunDetail key={id} workflowId={id} />;
  }
  if (path === "/failed") return <Failed />;
  if (path === "/workers") return <Workers />;
  if (path === "/timers") return <Timers />;
  if (path === "/schedules") return <Schedules />;
  if (path === "/definitions") return <Definitions />;
  return (
    <div className="page">
      <Empty title="No such page">
        <Link to="/">Back to the overview</Link>
      </Empty>
    </div>
  );
}

export function App() {
  const { path } = useLocation();
  const tokenNeeded = useTokenNeeded();
  const [tokenOpen, setTokenOpen] = useState(false);
  const active = (p: string) => (p === "/" ? path === "/" : path === p || path.startsWith(`${p}/`));
  return (
    <div className="shell">
      <nav className="nav" aria-label="Main">
        <Link to="/" className="brand">
          <span className="brand-mark">≋</span> Weft
        </Link>
        <ul>
          {NAV.map((item) => (
            <li key={item.path}>
              <Link to={item.path} className={active(item.path) ? "active" : undefined}>
                <span className="nav-icon" aria-hidden>
                  {item.icon}
                </span>
                {item.label}
              </Link>
            </li>
          ))}
        </ul>
        <div className="nav-foot">
          <LiveIndicator />
          <button className="btn ghost token-btn" onClick={() => setTokenOpen(true)}>
            API token: {tokens.get() ? "set" : "none"}
          </button>
        </div>
      </nav>
      <main className="main">
        {tokenNeeded ? (
          <div className="banner" role="alert">
            The API needs a valid token.{" "}
            <button className="btn small primary" onClick={() => setTokenOpen(true)}>
              Enter token
            </button>
          </div>
        ) : null}
        <ErrorBoundary resetKey={path}>{page(path)}</ErrorBoundary>
      </main>
      {tokenOpen ? <TokenDialog onClose={() => setTokenOpen(false)} /> : null}
    </div>
  );
}

function LiveIndicator() {
  const state = useSocketState();
  const label = { live: "Live", connecting: "Connecting…", down: "Reconnecting…" }[state];
  return (
    <div className={`live live-${state}`} title="Live updates over WebSocket">
      <span className="dot" /> {label}
    </div>
  );
}

function TokenDialog({ onClose }: { onClose: () => void }) {
  const [value, setValue] = useState(tokens.get() ?? "");
  return (
    <Modal title="API token" onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          tokens.set(value);
          onClose();
        }}
      >
        <p className="muted">
          When the API has auth on, every request carries this token. It is kept in this tab’s
          session only and forgotten when the tab closes.
        </p>
        <label>
          Token
          <input
            type="password"
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            autoFocus
          />
        </label>
        <div className="form-actions">
          <button
            type="button"
            className="btn"
            onClick={() => {
              tokens.set(null);
              onClose();
            }}
          >
            Forget token
          </button>
          <button type="submit" className="btn primary">
            Use token
          </button>
        </div>
      </form>
    </Modal>
  );
}
