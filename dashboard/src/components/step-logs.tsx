import type { StepAttempt, StepLogLine } from "../api/types";
import { formatAbsolute, formatCount } from "../format";

/** Up to this many lines an attempt's log shows open; more, and it starts collapsed. */
const OPEN_UP_TO = 5;

/**
 * What one attempt logged (`step.log.*` in the step), under its row of the timeline: open when
 * short, collapsed when long (a flood shows its first 100 lines, then how many it dropped).
 */
export function AttemptLogs({ attempt }: { attempt: StepAttempt }) {
  const { logs } = attempt;
  if (logs.length === 0) return null;
  const kept = logs.length - (attempt.logsDropped > 0 ? 1 : 0);
  return (
    <details
      className="attempt-logs"
      open={logs.length <= OPEN_UP_TO}
      data-testid="attempt-logs"
      data-attempt={`${attempt.stepName}#${attempt.stepSeq}.${attempt.attempt}`}
    >
      <summary>
        {kept} log line{kept === 1 ? "" : "s"}
        {attempt.logsDropped > 0 ? `, ${formatCount(attempt.logsDropped)} dropped` : ""}
        <span className="muted">
          {" "}
          · {attempt.stepName} #{attempt.stepSeq}, attempt {attempt.attempt}
        </span>
      </summary>
      <ol className="log-lines">
        {logs.map((line, i) => (
          <LogLine key={i} line={line} />
        ))}
      </ol>
    </details>
  );
}

function LogLine({ line }: { line: StepLogLine }) {
  return (
    <li className={`log-line log-${line.level}`}>
      <span className="log-time mono" title={formatAbsolute(line.at)}>
        {clockTime(line.at)}
      </span>
      <span className="log-level">{line.level}</span>
      <span className="log-message">{line.message}</span>
      {line.fields != null ? (
        <code className="log-fields mono">{JSON.stringify(line.fields)}</code>
      ) : null}
    </li>
  );
}

/** `HH:MM:SS.mmm` in the browser's zone: lines of one attempt are seconds apart. */
function clockTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
