/**
 * One record or webhook delivery → the command it asks for, or the reason it maps to none.
 * Pure: the same delivery always maps to the same workflow ID and request ID, so a record
 * replayed after a crash (or a webhook retried) is a duplicate the decider already knows:
 * a start of a workflow ID it has seen is that run's duplicate, a signal with a request ID the
 * run recorded is recorded once (docs/workflows.md, request IDs).
 */
import { createHash } from "node:crypto";
import { WeftError } from "../core/errors";
import { assertWorkflowId } from "../core/ids";
import {
  signalWithStartCommand,
  signalWorkflowCommand,
  startWorkflowCommand,
} from "../producers/workflow-commands";
import type { Command } from "../schemas/types";
import type { TriggerDefinition, TriggerSourceInfo } from "./definition";

/** A record above this is refused before it is decoded (limits before work). */
export const MAX_TRIGGER_RECORD_BYTES = 1024 * 1024;
/** Request IDs and workflow IDs are at most 200 characters; longer ones are hashed. */
const MAX_ID_LENGTH = 200;

export interface Delivery {
  key: Buffer | null;
  value: Buffer | null;
  /** Names the delivery within the trigger: `<topic>/<partition>/<offset>` or a delivery ID. */
  delivery: string;
  headers: Readonly<Record<string, string>>;
}

export type MapOutcome =
  { kind: "command"; command: Command } | { kind: "unmappable"; reason: string };

/** Kafka: a record names itself by where it sits; a replay finds it at the same place. */
export function recordDelivery(topic: string, partition: number, offset: string): string {
  return `${topic}/${partition}/${offset}`;
}

/** The request ID every command of a delivery carries: `trigger/<name>/<delivery>`. */
export function deliveryRequestId(trigger: string, delivery: string): string {
  return boundedId(`trigger/${trigger}/`, delivery);
}

export function mapDelivery(trigger: TriggerDefinition, delivery: Delivery): MapOutcome {
  try {
    return { kind: "command", command: commandFor(trigger, delivery) };
  } catch (err) {
    // A trigger's own code (map) may throw anything; every throw refuses this one delivery.
    const reason = WeftError.is(err) ? `${err.code}: ${err.message}` : (err as Error).message;
    return { kind: "unmappable", reason: String(reason) };
  }
}

function commandFor(trigger: TriggerDefinition, delivery: Delivery): Command {
  const value = decode(trigger, delivery.value);
  const info: TriggerSourceInfo = {
    trigger: trigger.name,
    key: delivery.key?.toString("utf8") ?? null,
    delivery: delivery.delivery,
    headers: delivery.headers,
  };
  const workflowId = workflowIdOf(trigger, value, info);
  const mapped = trigger.map ? trigger.map(value, info) : value;
  const requestId = deliveryRequestId(trigger.name, delivery.delivery);
  switch (trigger.action) {
    case "start": {
      const command = startWorkflowCommand(trigger.workflowType!, { workflowId, input: mapped });
      return { ...command, body: { ...command.body, requestId } };
    }
    case "signal":
      return signalWorkflowCommand(workflowId, trigger.signal!, mapped, requestId);
    case "signalWithStart":
      return signalWithStartCommand(trigger.workflowType!, {
        workflowId,
        signalName: trigger.signal!,
        payload: mapped,
        requestId,
      });
  }
}

function decode(trigger: TriggerDefinition, value: Buffer | null): unknown {
  if (value === null) throw new Error("the record has no value (a tombstone)");
  if (value.length > MAX_TRIGGER_RECORD_BYTES)
    throw new Error(`the value is ${value.length} bytes; the limit is ${MAX_TRIGGER_RECORD_BYTES}`);
  const kafka = trigger.source.type === "kafka" ? trigger.source.kafka : undefined;
  if (kafka?.format === "avro") {
    let bytes = value;
    if (kafka.framing === "confluent") {
      if (bytes.length < 5 || bytes[0] !== 0)
        throw new Error("the value does not start with the schema registry's header (magic 0)");
      bytes = bytes.subarray(5);
    }
    try {
      return trigger.avroType!.fromBuffer(bytes);
    } catch (err) {
      throw new Error(`the value does not decode as Avro: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(value.toString("utf8")) as unknown;
  } catch (err) {
    throw new Error(`the value is not JSON: ${(err as Error).message}`);
  }
}

function workflowIdOf(trigger: TriggerDefinition, value: unknown, info: TriggerSourceInfo) {
  let found: string;
  if (trigger.workflowId === "key") {
    if (info.key === null || info.key === "") throw new Error("the record has no key");
    found = info.key;
  } else if (trigger.workflowId === "delivery") {
    found = boundedId(`${trigger.name}/`, info.delivery);
  } else {
    const field = fieldOf(value, trigger.fieldPath!);
    if (typeof field === "string" && field !== "") found = field;
    else if (typeof field === "number" && Number.isSafeInteger(field)) found = String(field);
    else
      throw new Error(`field ${trigger.fieldPath!.join(".")} is not a non-empty string or integer`);
  }
  return assertWorkflowId(`${trigger.workflowIdPrefix}${found}`);
}

function fieldOf(value: unknown, path: readonly string[]): unknown {
  let at = value;
  for (const part of path) {
    if (at === null || typeof at !== "object" || !Object.hasOwn(at, part)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** `prefix + rest`, or `prefix + sha256(rest)` when that is too long for an ID. */
function boundedId(prefix: string, rest: string): string {
  const whole = `${prefix}${rest}`;
  if (whole.length <= MAX_ID_LENGTH) return whole;
  return `${prefix}${createHash("sha256").update(rest).digest("hex").slice(0, 40)}`;
}
