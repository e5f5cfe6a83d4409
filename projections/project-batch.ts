import type { PortConsumedMessage } from "../transport/port";
import type { Logger } from "../core/logger";
import {
  COMMAND_TYPE_HEADER,
  commandCodec,
  headerText,
  historyCodec,
  registrationCodec,
  stepLogCodec,
} from "../schemas/codec";
import type { Command, HistoryEvent } from "../schemas/types";
import { foldEvents } from "./fold-events";
import { foldRegistrations } from "./fold-registrations";
import { foldStarts } from "./fold-starts";
import { checkStepLog, foldStepLogs } from "./fold-step-logs";
import type { ReadModelDb } from "./read-model-db";
import { upsertDefinitions } from "./tables/definitions";
import { lockOffset, saveOffset, type OffsetKey } from "./tables/offsets";
import { upsertProcesses } from "./tables/processes";
import { insertPendingRuns, loadRunStates } from "./tables/runs";
import { upsertStepLogs } from "./tables/step-logs";
import { writeChanges } from "./write-changes";

/**
 * Why a record went to the DLQ, as a bounded label: it did not decode against its schema, or
 * it decoded but the database would not take it (found by projecting a failed batch record by
 * record).
 */
export const DEAD_LETTER_KINDS = ["undecodable", "unprojectable"] as const;
export type DeadLetterKind = (typeof DEAD_LETTER_KINDS)[number];

export interface DeadRecord {
  message: PortConsumedMessage;
  reason: string;
  kind: DeadLetterKind;
}

/** The topics the projector reads: history, and from the others only what it needs. */
export const PROJECTED_SOURCES = ["history", "registrations", "commands", "stepLogs"] as const;
export type ProjectedSource = (typeof PROJECTED_SOURCES)[number];

export interface BatchInput {
  source: ProjectedSource;
  key: OffsetKey;
  /** Records of one partition, in offset order. */
  records: readonly PortConsumedMessage[];
  /** The offset after the batch: its last record (control records included) + 1. */
  nextOffset: bigint;
  /**
   * Where this projector believes the stored offset is. A stored offset below it means the
   * read models were emptied under it (`replay projections`): it must read again from there.
   */
  expectedOffset: bigint;
  /** False once the partition was sought or revoked since the batch was fetched. */
  isCurrent(): boolean;
  /** Sends records to the DLQ; called inside the transaction, so a failed send projects nothing. */
  deadLetter(records: readonly DeadRecord[]): Promise<void>;
  /** Dead-letter every record with this reason instead of projecting it. */
  poisonReason?: string;
}

/** What a committed batch changed, for `onCommitted`. */
export interface BatchChanges {
  /** History events applied (duplicates and orphans left out), in order. */
  readonly events: readonly HistoryEvent[];
  /** Runs whose rows changed, in the order their first change came. */
  readonly workflowIds: readonly string[];
  /** Processes whose rows changed. */
  readonly processIds: readonly string[];
}

export type BatchOutcome =
  | { kind: "committed"; nextOffset: bigint; changes: BatchChanges }
  /** The stored offset went back (the tables were emptied): read again from `storedOffset`. */
  | { kind: "rewound"; storedOffset: bigint }
  /** Another seek or assignment superseded the batch: nothing was written. */
  | { kind: "stale" };

/**
 * Projects one batch of a partition in one transaction of the read models: rows and the partition's
 * next offset commit together or not at all (exactly once). Records below the stored offset
 * were projected already, by this process before a crash or by another during a rebalance,
 * and are skipped.
 */
export async function projectBatch(
  db: ReadModelDb,
  input: BatchInput,
  log: Logger,
): Promise<BatchOutcome> {
  return db.transaction(async (client): Promise<BatchOutcome> => {
    const stored = await lockOffset(client, input.key);
    if (!input.isCurrent()) return { kind: "stale" };
    if (stored < input.expectedOffset) return { kind: "rewound", storedOffset: stored };
    const fresh = input.records.filter((m) => BigInt(m.offset) >= stored);
    const project = PROJECT[input.source];
    const changes = await project(client, fresh, input, log);
    const next = input.nextOffset > stored ? input.nextOffset : stored;
    if (next !== stored) await saveOffset(client, input.key, next);
    return { kind: "committed", nextOffset: next, changes };
  });
}

type ProjectRecords = (
  client: ReadModelDb,
  records: readonly PortConsumedMessage[],
  input: BatchInput,
  log: Logger,
) => Promise<BatchChanges>;

const PROJECT: Record<ProjectedSource, ProjectRecords> = {
  history: projectHistory,
  registrations: projectRegistrations,
  commands: projectStarts,
  stepLogs: projectStepLogs,
};

/** Decodes records; those that do not decode (or are poisoned) come back as dead. */
function decodeAll<T>(
  records: readonly PortConsumedMessage[],
  input: BatchInput,
  decode: (message: PortConsumedMessage) => T,
): { decoded: T[]; dead: DeadRecord[] } {
  const decoded: T[] = [];
  const dead: DeadRecord[] = [];
  for (const message of records) {
    if (input.poisonReason !== undefined) {
      dead.push({ message, reason: input.poisonReason, kind: "unprojectable" });
      continue;
    }
    try {
      decoded.push(decode(message));
    } catch (err) {
      dead.push({ message, reason: (err as Error).message, kind: "undecodable" });
    }
  }
  return { decoded, dead };
}

async function projectHistory(
  client: ReadModelDb,
  records: readonly PortConsumedMessage[],
  input: BatchInput,
  log: Logger,
): Promise<BatchChanges> {
  const { decoded: events, dead } = decodeAll(records, input, (m) =>
    historyCodec.decode(m.value, m.headers),
  );
  const workflowIds = [...new Set(events.map((e) => e.workflowId))];
  const changes = foldEvents(await loadRunStates(client, workflowIds), events, log);
  // After the fold, which may refuse the batch, so a refused batch sends nothing twice.
  if (dead.length > 0) await input.deadLetter(dead);
  await writeChanges(client, changes);
  const applied = changes.applied;
  return {
    events: applied,
    workflowIds: [...new Set(applied.map((e) => e.workflowId))],
    processIds: [],
  };
}

async function projectRegistrations(
  client: ReadModelDb,
  records: readonly PortConsumedMessage[],
  input: BatchInput,
): Promise<BatchChanges> {
  const { decoded, dead } = decodeAll(records, input, (m) =>
    registrationCodec.decode(m.value, m.headers),
  );
  const changes = foldRegistrations(decoded);
  if (dead.length > 0) await input.deadLetter(dead);
  await upsertDefinitions(client, changes.definitions);
  await upsertProcesses(client, changes.processes);
  return { events: [], workflowIds: [], processIds: changes.processes.map((p) => p.process_id) };
}

/**
 * Commands carry every step report: only StartWorkflow records are decoded, picked by their
 * command-type header (a record without one, from an older producer, is decoded to find out).
 * A start that does not decode is left to the decider, which sends it to the DLQ.
 */
async function projectStarts(
  client: ReadModelDb,
  records: readonly PortConsumedMessage[],
  input: BatchInput,
  log: Logger,
): Promise<BatchChanges> {
  if (input.poisonReason !== undefined) {
    const reason = input.poisonReason;
    await input.deadLetter(records.map((message) => ({ message, reason, kind: "unprojectable" })));
    return { events: [], workflowIds: [], processIds: [] };
  }
  const starts: Command[] = [];
  for (const message of records) {
    const type = headerText(message.headers, COMMAND_TYPE_HEADER);
    if (type !== undefined && type !== "StartWorkflow") continue;
    try {
      starts.push(commandCodec.decode(message.value, message.headers));
    } catch (err) {
      log.debug({ err, offset: message.offset }, "undecodable command skipped");
    }
  }
  const workflowIds = await insertPendingRuns(client, foldStarts(starts));
  return { events: [], workflowIds, processIds: [] };
}

/**
 * Step logs: each attempt's lines into its own row, apart from the attempt's row (the two come
 * on different topics, in either order). The run is named as changed, so a subscriber sees them.
 */
async function projectStepLogs(
  client: ReadModelDb,
  records: readonly PortConsumedMessage[],
  input: BatchInput,
): Promise<BatchChanges> {
  const { decoded, dead } = decodeAll(records, input, (m) =>
    checkStepLog(stepLogCodec.decode(m.value, m.headers)),
  );
  const rows = foldStepLogs(decoded);
  if (dead.length > 0) await input.deadLetter(dead);
  await upsertStepLogs(client, rows);
  return {
    events: [],
    workflowIds: [...new Set(rows.map((r) => r.workflow_id))],
    processIds: [],
  };
}
