import { UndecodableRecordError } from "../core/errors";
import type { StepLogRecord } from "../schemas/types";
import { iso, type StepLogLineJson, type StepLogRow } from "./rows";

/**
 * Checks what the codec cannot: times that are times, and a sequence number and attempt that
 * name an attempt. A record that fails goes to the DLQ (throws UndecodableRecordError), so a
 * bad record never fails its batch.
 */
export function checkStepLog(record: StepLogRecord): StepLogRecord {
  const bad = (why: string) => new UndecodableRecordError(`not a valid step log: ${why}`);
  if (record.stepSeq < 1 || record.attempt < 1) throw bad("stepSeq and attempt start at 1");
  if (record.dropped < 0) throw bad("dropped is negative");
  for (const at of [record.at, ...record.lines.map((l) => l.at)]) {
    if (Number.isNaN(new Date(at).getTime())) throw bad(`time ${at} is not a valid time`);
  }
  return record;
}

/**
 * Rows of a batch of step logs (in offset order): one per attempt, the last record of an
 * attempt winning (an attempt that ran twice, its worker lost under it the first time). Pure:
 * times are the worker's, carried in the record.
 */
export function foldStepLogs(records: readonly StepLogRecord[]): StepLogRow[] {
  const rows = new Map<string, StepLogRow>();
  for (const r of records) {
    const key = `${r.workflowId}\u0000${r.stepSeq}\u0000${r.attempt}`;
    rows.delete(key);
    rows.set(key, {
      workflow_id: r.workflowId,
      step_seq: r.stepSeq,
      attempt: r.attempt,
      step_name: r.stepName,
      worker_id: r.workerId,
      at: iso(r.at),
      lines: r.lines.map((line): StepLogLineJson => ({
        level: line.level,
        message: line.message,
        fields: line.fields === null ? null : parseFields(line.fields),
        at: iso(line.at),
      })),
      dropped: r.dropped,
    });
  }
  return [...rows.values()];
}

/** The fields' JSON text as a value; text that is not JSON (a foreign producer's) as text. */
function parseFields(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
