import { useState } from "react";
import { request } from "../api/client";
import { RERUN_WORKFLOW, RESET_WORKFLOW, TERMINATE_WORKFLOW } from "../api/documents";
import type { WorkflowDetail } from "../api/types";
import { navigate, runPath } from "../router";
import { ErrorBox, Modal, Mono } from "./common";

/** Which run operation's confirmation is open. */
export type RunOperation = "terminate" | "rerun" | "reset";

/**
 * The confirmation of a terminate, re-run or reset: nothing is sent until it is confirmed, and
 * an API refusal (a read-only token's FORBIDDEN, RUN_CLOSED, RUN_OPEN…) stays on screen with
 * its code. A re-run or reset then opens the new run's page.
 */
export function RunOperationDialog({
  run,
  operation,
  onClose,
  onDone,
}: {
  run: WorkflowDetail;
  operation: RunOperation;
  onClose: () => void;
  onDone: () => void;
}) {
  const [reason, setReason] = useState("");
  const stepSeqs = [...new Set(run.steps.map((s) => s.stepSeq))].sort((a, b) => a - b);
  const failedSeq = run.steps.find((s) => s.status === "FAILED")?.stepSeq;
  const [toStepSeq, setToStepSeq] = useState(failedSeq ?? stepSeqs.at(-1) ?? 0);
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);

  const send = async () => {
    setBusy(true);
    setError(undefined);
    try {
      if (operation === "terminate") {
        await request(TERMINATE_WORKFLOW, { workflowId: run.id, reason: reason.trim() || null });
        onDone();
        onClose();
        return;
      }
      const data =
        operation === "rerun"
          ? (
              await request<{ rerunWorkflow: { workflowId: string } }>(RERUN_WORKFLOW, {
                workflowId: run.id,
              })
            ).rerunWorkflow
          : (
              await request<{ resetWorkflow: { workflowId: string } }>(RESET_WORKFLOW, {
                workflowId: run.id,
                toStepSeq,
              })
            ).resetWorkflow;
      navigate(runPath(data.workflowId));
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  const title =
    operation === "terminate"
      ? "Terminate this run?"
      : operation === "rerun"
        ? "Re-run this run?"
        : "Reset this run to a step?";
  const stepName = (seq: number) => run.steps.find((s) => s.stepSeq === seq)?.stepName ?? "";
  return (
    <Modal title={title} onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        {operation === "terminate" ? (
          <>
            <p>
              <Mono>{run.id}</Mono> ({run.type}) closes now, cancelled, and its code does not run
              again: no cleanup runs. Its running steps are told to stop. This cannot be undone.
            </p>
            <label>
              Reason <span className="muted">(recorded in history)</span>
              <input name="reason" value={reason} onChange={(e) => setReason(e.target.value)} />
            </label>
          </>
        ) : operation === "rerun" ? (
          <p>
            A new run of {run.type} starts with the input of <Mono>{run.id}</Mono>; every step runs
            again. This run is left as it is.
          </p>
        ) : (
          <>
            <p>
              A new run of {run.type} starts with the input of <Mono>{run.id}</Mono>. The steps
              before the one chosen take the results this run recorded instead of running; that step
              and all after it run again.
            </p>
            <label>
              Run again from step
              <select
                name="toStepSeq"
                value={toStepSeq}
                onChange={(e) => setToStepSeq(Number(e.target.value))}
              >
                {stepSeqs.map((seq) => (
                  <option key={seq} value={seq}>
                    #{seq} {stepName(seq)}
                  </option>
                ))}
              </select>
            </label>
          </>
        )}
        {error ? <ErrorBox error={error} /> : null}
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>
            Close
          </button>
          <button
            type="submit"
            className={operation === "terminate" ? "btn danger" : "btn primary"}
            disabled={busy || (operation === "reset" && stepSeqs.length === 0)}
          >
            {operation === "terminate"
              ? "Terminate the run"
              : operation === "rerun"
                ? "Start the new run"
                : `Reset to step #${toStepSeq}`}
          </button>
        </div>
      </form>
    </Modal>
  );
}
