import type { DefinitionInfo, Registration } from "../schemas/types";
import {
  iso,
  type DefinitionKind,
  type DefinitionRow,
  type ProcessRow,
  type RegistrationChanges,
} from "./rows";
import { RawJson } from "./sql-json";

/** How `weft_processes.definitions` names a version: `<kind>/<name>/<hash>`. */
export function definitionKey(kind: DefinitionKind, name: string, hash: string): string {
  return `${kind}/${name}/${hash}`;
}

/**
 * Folds a batch of registrations (in offset order) into rows. Pure: times are the beats' own.
 * A process's last registration of the batch is its row; each version of a definition gets the
 * earliest and latest beat that listed it.
 */
export function foldRegistrations(records: readonly Registration[]): RegistrationChanges {
  const processes = new Map<string, ProcessRow>();
  const definitions = new Map<string, DefinitionRow>();
  const see = (kind: DefinitionKind, info: DefinitionInfo, at: string) => {
    const key = definitionKey(kind, info.name, info.hash);
    const known = definitions.get(key);
    if (known) {
      if (at < known.first_seen) known.first_seen = at;
      if (at > known.last_seen) known.last_seen = at;
      return key;
    }
    definitions.set(key, {
      kind,
      name: info.name,
      hash: info.hash,
      task_queue: info.taskQueue,
      retry: info.retry === null ? null : RawJson.from(info.retry),
      timeout_ms: info.timeoutMs,
      first_seen: at,
      last_seen: at,
    });
    return key;
  };
  for (const r of records) {
    const at = iso(r.at);
    const keys = [
      ...r.workflows.map((w) => see("workflow", w, at)),
      ...r.steps.map((s) => see("step", s, at)),
    ];
    // Delete first so the map's order is that of each process's last beat.
    processes.delete(r.processId);
    processes.set(r.processId, {
      process_id: r.processId,
      roles: r.roles,
      host: r.host,
      pid: r.pid,
      queues: r.queues,
      workflows: r.workflows.map((w) => w.name),
      steps: r.steps.map((s) => s.name),
      definitions: keys,
      in_flight: r.inFlight,
      concurrency: r.concurrency,
      interval_ms: r.intervalMs,
      started_at: iso(r.startedAt),
      last_seen: at,
      stopped_at: r.state === "stopped" ? at : null,
    });
  }
  return { definitions: [...definitions.values()], processes: [...processes.values()] };
}
