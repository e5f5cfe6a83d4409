/**
 * `defineTrigger`: how records of a user's Kafka topic, or deliveries to a webhook, become
 * starts and signals of runs. A definition is checked once, when it is made (INVALID_CONFIG
 * with the fix in the message), compiled (the Avro type, the field path) and frozen; the
 * consumer and the webhook route only ever read it.
 */
import avro from "avsc";
import { ConfigError } from "../core/errors";
import type { WorkflowDefinition } from "../workflow/definitions";

/** What each record or delivery does to a run. */
export const TRIGGER_ACTIONS = ["start", "signal", "signalWithStart"] as const;
export type TriggerAction = (typeof TRIGGER_ACTIONS)[number];

/**
 * Where a run's workflow ID comes from:
 * - `"key"`: the Kafka record's key (Kafka triggers only);
 * - `"delivery"`: the record itself (topic, partition, offset) or the webhook's delivery ID,
 *   so each record or delivery is a run of its own;
 * - `{ field }`: a field of the decoded value (`"order.id"` reads nested fields).
 */
export type WorkflowIdSource = "key" | "delivery" | { field: string };

export interface KafkaTriggerSource {
  /** The user's topic. It must exist; Weft never creates or alters it. */
  topic: string;
  /** How values are encoded; default `"json"`. */
  format?: "json" | "avro";
  /** The Avro schema of the values (format `"avro"`). */
  schema?: object;
  /**
   * `"confluent"`: each value starts with the schema registry's 5-byte header (magic byte 0
   * and the schema ID), skipped before decoding. Default `"raw"`.
   */
  framing?: "raw" | "confluent";
  /** Where a new trigger's group starts: the topic's first record (default) or its end. */
  fromBeginning?: boolean;
}

export interface WebhookHmac {
  /** The shared secret the sender signs the raw body with. */
  secret: string;
  /** The header carrying the signature; default `x-weft-signature`. */
  header?: string;
  /** Default `sha256`. */
  algorithm?: "sha256" | "sha512" | "sha1";
  /** Text before the hex digest in the header, e.g. `sha256=` (GitHub); default none. */
  prefix?: string;
}

export interface WebhookTriggerSource {
  /** The sender puts it in `Authorization: Bearer <token>` (16+ characters). */
  token?: string;
  /** Or signs the body: HMAC of the raw body, hex, in a header. */
  hmac?: WebhookHmac;
  /** The header naming the delivery; a retry carries the same one. Default `x-weft-delivery`. */
  deliveryIdHeader?: string;
  /** Bodies above this are refused (413) while they are read; default 256 KiB. */
  maxBodyBytes?: number;
}

/** What `map` is given besides the decoded value. */
export interface TriggerSourceInfo {
  trigger: string;
  /** The record's key (Kafka) as text, else null. */
  key: string | null;
  /** Kafka: `<topic>/<partition>/<offset>`; webhook: the delivery ID. */
  delivery: string;
  /** Header values as text (Kafka record headers, or the request's). */
  headers: Readonly<Record<string, string>>;
}

export interface TriggerOptions {
  /** Exactly one: a Kafka topic, or a webhook at `POST /hooks/<name>`. */
  kafka?: KafkaTriggerSource;
  webhook?: WebhookTriggerSource;
  action: TriggerAction;
  /** The workflow a start or signalWithStart starts (type name or definition). */
  workflow?: string | WorkflowDefinition<never>;
  /** The signal a `signal` or `signalWithStart` delivers. */
  signal?: string;
  workflowId: WorkflowIdSource;
  /** Put before the workflow ID found (e.g. `order-`). */
  workflowIdPrefix?: string;
  /**
   * Turns the decoded value into the run's input (start) or the signal's payload. Default: the
   * value as it is. Throwing refuses the record (DLQ) or delivery (422) as UNMAPPABLE_INPUT.
   * It must be a pure function of its arguments: a replayed record must map the same way.
   */
  map?: (value: unknown, source: TriggerSourceInfo) => unknown;
}

export interface TriggerDefinition {
  readonly kind: "trigger";
  readonly name: string;
  readonly source:
    | { readonly type: "kafka"; readonly kafka: Readonly<KafkaTriggerSource> }
    | { readonly type: "webhook"; readonly webhook: Readonly<WebhookTriggerSource> };
  readonly action: TriggerAction;
  /** The workflow type started, or null for a plain signal. */
  readonly workflowType: string | null;
  readonly signal: string | null;
  readonly workflowId: WorkflowIdSource;
  readonly workflowIdPrefix: string;
  readonly map: ((value: unknown, source: TriggerSourceInfo) => unknown) | undefined;
  /** The compiled Avro type (format avro). */
  readonly avroType: avro.Type | undefined;
  /** The field path of `workflowId: { field }`, split once. */
  readonly fieldPath: readonly string[] | undefined;
}

const TRIGGER_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const KAFKA_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;
export const DEFAULT_DELIVERY_HEADER = "x-weft-delivery";
export const DEFAULT_SIGNATURE_HEADER = "x-weft-signature";
export const DEFAULT_WEBHOOK_MAX_BODY_BYTES = 256 * 1024;
/** What a webhook body may be at most, whatever a trigger asks: the API's own body limit. */
const MAX_WEBHOOK_BODY_BYTES = 2 * 1024 * 1024;
const MIN_SECRET_LENGTH = 16;

/** Defines a trigger; throws ConfigError (INVALID_CONFIG) naming what to fix. */
export function defineTrigger(name: string, options: TriggerOptions): TriggerDefinition {
  const fail = (message: string): never => {
    throw new ConfigError(`trigger ${JSON.stringify(name)}: ${message}`);
  };
  if (typeof name !== "string" || !TRIGGER_NAME.test(name))
    fail("the name must be 1-64 characters of A-Z a-z 0-9 . _ -");
  if ((options.kafka === undefined) === (options.webhook === undefined))
    fail("give exactly one source: kafka: { topic } or webhook: { token | hmac }");
  if (!TRIGGER_ACTIONS.includes(options.action))
    fail(`action must be one of ${TRIGGER_ACTIONS.join(", ")}`);
  const workflowType =
    options.workflow === undefined
      ? null
      : typeof options.workflow === "string"
        ? options.workflow
        : options.workflow.name;
  if (options.action !== "signal" && !workflowType)
    fail(`action ${options.action} needs the workflow to start: workflow: <definition or type>`);
  if (options.action !== "start" && !options.signal)
    fail(`action ${options.action} needs the signal's name: signal: "<name>"`);
  const prefix = options.workflowIdPrefix ?? "";
  if (!/^[A-Za-z0-9._:@/-]{0,100}$/.test(prefix))
    fail("workflowIdPrefix may hold only A-Z a-z 0-9 . _ : @ / - (100 at most)");
  const idSource = options.workflowId;
  let fieldPath: string[] | undefined;
  if (typeof idSource === "object" && idSource !== null) {
    fieldPath = String(idSource.field ?? "").split(".");
    if (fieldPath.some((part) => part === ""))
      fail('workflowId: { field } needs a field name, e.g. { field: "order.id" }');
  } else if (idSource !== "key" && idSource !== "delivery") {
    fail('workflowId must be "key", "delivery" or { field: "<name>" }');
  }
  if (options.map !== undefined && typeof options.map !== "function")
    fail("map must be a function of (value, source)");

  let source: TriggerDefinition["source"];
  let avroType: avro.Type | undefined;
  if (options.kafka) {
    const kafka = { ...options.kafka };
    if (!KAFKA_TOPIC.test(kafka.topic ?? ""))
      fail("kafka.topic must be a Kafka topic name (A-Z a-z 0-9 . _ -, 249 at most)");
    const format = kafka.format ?? "json";
    if (format !== "json" && format !== "avro") fail('kafka.format must be "json" or "avro"');
    if (format === "avro") {
      if (!kafka.schema) fail("kafka.format avro needs kafka.schema (the values' Avro schema)");
      try {
        avroType = avro.Type.forSchema(kafka.schema as avro.Schema, { wrapUnions: "auto" });
      } catch (err) {
        fail(`kafka.schema is not a valid Avro schema: ${(err as Error).message}`);
      }
    }
    if (kafka.framing !== undefined && kafka.framing !== "raw" && kafka.framing !== "confluent")
      fail('kafka.framing must be "raw" or "confluent"');
    source = { type: "kafka", kafka: Object.freeze({ ...kafka, format }) };
  } else {
    const webhook = { ...options.webhook! };
    if (idSource === "key")
      fail('a webhook has no record key: use workflowId "delivery" or { field }');
    if ((webhook.token === undefined) === (webhook.hmac === undefined))
      fail("a webhook needs exactly one of token or hmac: { secret }");
    if (webhook.token !== undefined && !(webhook.token.length >= MIN_SECRET_LENGTH))
      fail(`webhook.token must be ${MIN_SECRET_LENGTH}+ characters`);
    if (webhook.hmac) {
      const hmac = { ...webhook.hmac };
      if (!(typeof hmac.secret === "string" && hmac.secret.length >= MIN_SECRET_LENGTH))
        fail(`webhook.hmac.secret must be ${MIN_SECRET_LENGTH}+ characters`);
      const algorithm = hmac.algorithm ?? "sha256";
      if (!["sha256", "sha512", "sha1"].includes(algorithm))
        fail("webhook.hmac.algorithm must be sha256, sha512 or sha1");
      const header = (hmac.header ?? DEFAULT_SIGNATURE_HEADER).toLowerCase();
      if (!HEADER_NAME.test(header)) fail("webhook.hmac.header must be a header name");
      webhook.hmac = Object.freeze({ ...hmac, algorithm, header, prefix: hmac.prefix ?? "" });
    }
    const deliveryHeader = (webhook.deliveryIdHeader ?? DEFAULT_DELIVERY_HEADER).toLowerCase();
    if (!HEADER_NAME.test(deliveryHeader)) fail("webhook.deliveryIdHeader must be a header name");
    const maxBodyBytes = webhook.maxBodyBytes ?? DEFAULT_WEBHOOK_MAX_BODY_BYTES;
    if (
      !Number.isInteger(maxBodyBytes) ||
      maxBodyBytes < 1 ||
      maxBodyBytes > MAX_WEBHOOK_BODY_BYTES
    )
      fail(`webhook.maxBodyBytes must be an integer from 1 to ${MAX_WEBHOOK_BODY_BYTES}`);
    source = {
      type: "webhook",
      webhook: Object.freeze({ ...webhook, deliveryIdHeader: deliveryHeader, maxBodyBytes }),
    };
  }
  return Object.freeze({
    kind: "trigger" as const,
    name,
    source,
    action: options.action,
    workflowType,
    signal: options.signal ?? null,
    workflowId: typeof idSource === "object" ? Object.freeze({ ...idSource }) : idSource,
    workflowIdPrefix: prefix,
    map: options.map,
    avroType,
    fieldPath: fieldPath ? Object.freeze(fieldPath) : undefined,
  });
}

/** Refuses two triggers with one name: a webhook path and a consumer group name one trigger. */
export function assertDistinctTriggers(triggers: readonly TriggerDefinition[]): void {
  const seen = new Set<string>();
  for (const t of triggers) {
    if (seen.has(t.name))
      throw new ConfigError(`two triggers are named ${JSON.stringify(t.name)}: rename one`);
    seen.add(t.name);
  }
}
