import { WeftError } from "../core/errors";
import type { Command } from "../schemas/types";

/**
 * Resolves when `sent` does, or rejects NOT_ACKNOWLEDGED once `timeoutMs` pass first or the
 * send fails (its retries spent). The send is not cancelled: a produce already on its way may
 * still be written, so the error names the command's workflow ID and request ID, with which a
 * second send is recorded once.
 */
export function acknowledgedWithin(
  sent: Promise<void>,
  timeoutMs: number,
  command: Command,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          notAcknowledged(
            command,
            `Kafka did not acknowledge the command within ${timeoutMs} ms (WEFT_COMMAND_ACK_TIMEOUT_MS)`,
          ),
        ),
      timeoutMs,
    );
    // Both outcomes are handled here, so a send that fails after the timeout answered is not
    // an unhandled rejection (which would end the process).
    sent.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(
          WeftError.is(err)
            ? err
            : notAcknowledged(
                command,
                `Kafka refused the command: ${err instanceof Error ? err.message : String(err)}`,
              ),
        );
      },
    );
  });
}

function notAcknowledged(command: Command, reason: string): WeftError {
  const { body, workflowId } = command;
  const requestId = "requestId" in body && body.requestId ? body.requestId : undefined;
  // A start is recorded once per workflow ID; a signal or a cancel once per request ID.
  const again =
    requestId && body.type !== "StartWorkflow"
      ? `workflowId ${workflowId} and requestId ${requestId}`
      : `workflowId ${workflowId}`;
  return new WeftError(
    "NOT_ACKNOWLEDGED",
    `${reason}; it may still be written: send it again with ${again}, which is recorded once`,
    { workflowId, ...(requestId ? { requestId } : {}) },
  );
}
