import { useEffect, useRef, useState, type RefObject } from "react";
import type { Stats } from "../api/types";

const SERIES = [
  { key: "started", label: "started", cls: "c-started" },
  { key: "completed", label: "completed", cls: "c-completed" },
  { key: "failed", label: "failed", cls: "c-failed" },
] as const;

/** The width the chart is drawn at: its box's, so labels keep their size on a narrow screen. */
function useWidth(ref: RefObject<HTMLElement | null>, fallback: number): number {
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const element = ref.current;
    if (!element || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(([entry]) => {
      const measured = Math.round(entry?.contentRect.width ?? 0);
      if (measured > 0) setWidth(Math.max(240, Math.min(measured, 960)));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

/** Runs started / completed / failed per minute, as lines in a small SVG. */
export function ThroughputChart({ points }: { points: Stats["throughput"] }) {
  const ref = useRef<HTMLElement>(null);
  const width = useWidth(ref, 640);
  const height = 160;
  const pad = { left: 40, right: 24, top: 8, bottom: 20 };
  const max = Math.max(1, ...points.flatMap((p) => [p.started, p.completed, p.failed]));
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const x = (i: number) =>
    pad.left + (points.length <= 1 ? innerW : (i * innerW) / (points.length - 1));
  const y = (v: number) => pad.top + innerH - (v / max) * innerH;
  const last = points[points.length - 1];
  const ticks = [0, max / 2, max];
  // A time label every 3 minutes, or every 5 on a narrow chart.
  const every = width < 480 ? 5 : 3;
  return (
    <figure className="chart" ref={ref}>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label="Runs per minute">
        {ticks.map((t) => (
          <g key={t}>
            <line x1={pad.left} x2={width - pad.right} y1={y(t)} y2={y(t)} className="grid" />
            <text x={pad.left - 6} y={y(t) + 4} className="tick" textAnchor="end">
              {Math.round(t)}
            </text>
          </g>
        ))}
        {points.map((p, i) =>
          i % every === (points.length - 1) % every ? (
            <text key={p.minute} x={x(i)} y={height - 4} className="tick" textAnchor="middle">
              {new Date(p.minute).toLocaleTimeString([], {
                hour: "2-digit",
                minute: "2-digit",
                hour12: false,
              })}
            </text>
          ) : null,
        )}
        {SERIES.map((s) => (
          <polyline
            key={s.key}
            className={`line ${s.cls}`}
            points={points.map((p, i) => `${x(i)},${y(p[s.key])}`).join(" ")}
          />
        ))}
      </svg>
      <figcaption className="legend">
        {SERIES.map((s) => (
          <span key={s.key} className={`legend-item ${s.cls}`}>
            <i /> {s.label} {last ? <b>{last[s.key]}</b> : null}
          </span>
        ))}
        <span className="muted">per minute, last {points.length} min</span>
      </figcaption>
    </figure>
  );
}
