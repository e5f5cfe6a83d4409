import { useMemo } from "react";
import { errorCode, errorMessage, errorName, errorStack } from "../format";
import { splitStack } from "../stack";
import { JsonView } from "./common";

/**
 * A recorded error as its author reads it: the name and message first, then the stack with
 * the user's own frames shown and Weft's (and Node's) folded behind "N Weft frames".
 */
export function ErrorDetails({ error, raw = true }: { error: unknown; raw?: boolean }) {
  const name = errorName(error);
  const code = errorCode(error);
  const message = errorMessage(error);
  const stack = errorStack(error);
  const terminal = (error as { terminal?: unknown } | null)?.terminal === true;
  return (
    <div className="error-view" data-testid="error-view">
      <div className="error-head">
        {name ? <span className="error-name">{name}</span> : null}
        {code ? <span className="code">{code}</span> : null}
        {terminal && code !== "TERMINAL" ? <span className="muted small">not retried</span> : null}
      </div>
      <div className="error-message" data-testid="error-message">
        {message || <span className="muted">no message</span>}
      </div>
      {stack ? <StackView stack={stack} name={name} message={message} /> : null}
      {raw ? (
        <details className="raw">
          <summary>raw</summary>
          <JsonView value={error} />
        </details>
      ) : null}
    </div>
  );
}

export function StackView({
  stack,
  name,
  message,
}: {
  stack: string;
  name?: string | undefined;
  message?: string | undefined;
}) {
  const split = useMemo(() => splitStack(stack, { name, message }), [stack, name, message]);
  return (
    <div
      className="stack"
      data-testid="stack"
      data-user-frames={split.userFrames}
      data-weft-frames={split.weftFrames}
    >
      {split.header.map((line, i) => (
        <div key={`h${i}`} className="stack-header">
          {line}
        </div>
      ))}
      {split.groups.map((group, i) =>
        group.kind === "user" ? (
          <div key={i} className="frames user-frames">
            {group.lines.map((line, j) => (
              <div key={j} className="frame">
                {line.trim()}
              </div>
            ))}
          </div>
        ) : (
          <details key={i} className="frames weft-frames">
            <summary>
              {group.lines.length} Weft {group.lines.length === 1 ? "frame" : "frames"}
            </summary>
            {group.lines.map((line, j) => (
              <div key={j} className="frame">
                {line.trim()}
              </div>
            ))}
          </details>
        ),
      )}
    </div>
  );
}
