/**
 * Webhook triggers on the API: `POST /hooks/<name>`. A delivery is refused in the order it
 * costs nothing, then little: too many from its address (429 RATE_LIMITED), a hook that does
 * not exist (404 UNKNOWN_TRIGGER), a declared body over the hook's limit (413), a missing or
 * wrong token or a missing signature header (401 BAD_SIGNATURE), no valid delivery ID (400
 * INVALID_INPUT), all before the body is read; then a body over the limit while it is read
 * (413), a signature that does not match the body (401), a body that maps to no command (422
 * UNMAPPABLE_INPUT). What passes is one command, produced as the API's mutations produce
 * theirs, answered 202 once Kafka has it, or 503 NOT_ACKNOWLEDGED (with Retry-After) when
 * Kafka does not within WEFT_COMMAND_ACK_TIMEOUT_MS. The delivery ID names the command's
 * request ID (and, with `workflowId: "delivery"`, the run): the sender's retry of a delivery is
 * one run, one signal.
 */
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ConfigError, WeftError, type ErrorCode } from "../core/errors";
import { sendCodedError } from "../graphql/http-errors";
import type { CommandProducer } from "../producers/command-producer";
import type { TriggerDefinition } from "./definition";
import { mapDelivery } from "./map-delivery";
import type { TriggerCounters } from "./trigger-counters";
import { checkHeaders, checkSignature } from "./webhook-auth";

export interface WebhookOptions {
  triggers: readonly TriggerDefinition[];
  counters: TriggerCounters;
  /** Deliveries per client address per minute, over every hook. */
  requestsPerMinute: number;
}

export interface WebhookPluginOptions extends WebhookOptions {
  commands: Pick<CommandProducer, "send">;
}

export const DEFAULT_HOOK_REQUESTS_PER_MINUTE = 600;
/** Seconds a delivery Kafka did not acknowledge is told to wait before it is sent again. */
const RETRY_AFTER_S = 5;

/** A delivery ID becomes part of IDs: the characters of a workflow ID, 128 at most. */
const DELIVERY_ID = /^[A-Za-z0-9._:@/-]{1,128}$/;

/** `WEFT_HOOK_REQUESTS_PER_MINUTE`, checked (INVALID_CONFIG names the variable). */
export function hookRequestsPerMinuteFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.WEFT_HOOK_REQUESTS_PER_MINUTE;
  if (raw === undefined || raw === "") return DEFAULT_HOOK_REQUESTS_PER_MINUTE;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 1_000_000)
    throw new ConfigError(
      `WEFT_HOOK_REQUESTS_PER_MINUTE must be an integer from 1 to 1000000, got ${JSON.stringify(raw)}`,
    );
  return value;
}

export async function webhookPlugin(app: FastifyInstance, options: WebhookPluginOptions) {
  const hooks = new Map(
    options.triggers.filter((t) => t.source.type === "webhook").map((t) => [t.name, t] as const),
  );
  const { counters } = options;
  await app.register(rateLimit, { global: false });
  const limit = app.createRateLimit({ max: options.requestsPerMinute, timeWindow: 60_000 });
  // The raw bytes: an HMAC is over the body exactly as sent, so nothing parses it first.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
  const largest = Math.max(1, ...[...hooks.values()].map(maxBodyOf));
  const refuse = (
    reply: FastifyReply,
    trigger: string | undefined,
    status: number,
    code: ErrorCode,
    message: string,
  ) => {
    if (trigger !== undefined && hooks.has(trigger)) counters.refused(trigger);
    return sendCodedError(reply, status, code, message);
  };

  app.route<{ Params: { name: string } }>({
    method: "POST",
    url: "/hooks/:name",
    bodyLimit: largest,
    onRequest: async (request, reply) => {
      const rate = await limit(request);
      if (!rate.isAllowed && rate.isExceeded) {
        reply.header("retry-after", String(rate.ttlInSeconds));
        return refuse(
          reply,
          undefined,
          429,
          "RATE_LIMITED",
          `more than ${options.requestsPerMinute} webhook deliveries a minute from this address (WEFT_HOOK_REQUESTS_PER_MINUTE): retry in ${rate.ttlInSeconds} s`,
        );
      }
      const name = request.params.name;
      const trigger = hooks.get(name);
      if (!trigger)
        return refuse(
          reply,
          undefined,
          404,
          "UNKNOWN_TRIGGER",
          `no webhook trigger is named ${JSON.stringify(name)}`,
        );
      const declared = Number(request.headers["content-length"] ?? 0);
      if (declared > maxBodyOf(trigger))
        return refuse(reply, name, 413, "PAYLOAD_TOO_LARGE", tooLarge(trigger, declared));
      const source = webhookOf(trigger);
      const auth = checkHeaders(source, request.headers);
      if (!auth.ok) return refuse(reply, name, 401, "BAD_SIGNATURE", auth.message);
      const delivery = request.headers[source.deliveryIdHeader!];
      if (typeof delivery !== "string" || !DELIVERY_ID.test(delivery))
        return refuse(
          reply,
          name,
          400,
          "INVALID_INPUT",
          `a delivery needs ${source.deliveryIdHeader}: 1-128 characters of A-Z a-z 0-9 . _ : @ / - (a retry sends the same one)`,
        );
    },
    handler: async (request: FastifyRequest<{ Params: { name: string } }>, reply) => {
      const trigger = hooks.get(request.params.name)!;
      const source = webhookOf(trigger);
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (body.length > maxBodyOf(trigger))
        return refuse(
          reply,
          trigger.name,
          413,
          "PAYLOAD_TOO_LARGE",
          tooLarge(trigger, body.length),
        );
      const signature = checkSignature(source, request.headers, body);
      if (!signature.ok)
        return refuse(reply, trigger.name, 401, "BAD_SIGNATURE", signature.message);
      const delivery = request.headers[source.deliveryIdHeader!] as string;
      const outcome = mapDelivery(trigger, {
        key: null,
        value: body,
        delivery,
        headers: textHeaders(request.headers),
      });
      if (outcome.kind === "unmappable")
        return refuse(
          reply,
          trigger.name,
          422,
          "UNMAPPABLE_INPUT",
          `trigger ${trigger.name}: ${outcome.reason}`,
        );
      try {
        await options.commands.send(outcome.command);
      } catch (err) {
        if (!WeftError.is(err) || err.code !== "NOT_ACKNOWLEDGED") throw err;
        // A webhook's sender delivers again after a 5xx; the same delivery ID makes the same
        // run and request IDs, so a command written meanwhile is recorded once.
        void reply.header("retry-after", String(RETRY_AFTER_S));
        return refuse(reply, trigger.name, 503, "NOT_ACKNOWLEDGED", err.message);
      }
      counters.accepted(trigger.name);
      const { command } = outcome;
      return reply.code(202).send({
        trigger: trigger.name,
        workflowId: command.workflowId,
        requestId:
          command.body.type === "StartWorkflow" || command.body.type === "SignalWorkflow"
            ? command.body.requestId
            : null,
      });
    },
  });
}

function webhookOf(trigger: TriggerDefinition) {
  if (trigger.source.type !== "webhook") throw new Error(`${trigger.name} is not a webhook`);
  return trigger.source.webhook;
}

function maxBodyOf(trigger: TriggerDefinition): number {
  return webhookOf(trigger).maxBodyBytes!;
}

function tooLarge(trigger: TriggerDefinition, bytes: number): string {
  return `the body is ${bytes} bytes; webhook ${trigger.name} takes ${maxBodyOf(trigger)} at most`;
}

function textHeaders(headers: FastifyRequest["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === "string") out[name] = value;
    else if (Array.isArray(value)) out[name] = value.join(", ");
  }
  return out;
}
