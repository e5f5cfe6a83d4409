import type { ReadModelDb } from "../projections/read-model-db";
import rateLimit from "@fastify/rate-limit";
import websocket from "@fastify/websocket";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Kind, OperationTypeNode, type DocumentNode, type GraphQLError } from "graphql";
import mercurius, { type IResolvers } from "mercurius";
import { Counter, type Registry } from "prom-client";
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { CommandProducer } from "../producers/command-producer";
import type { RunCheckOptions } from "../producers/run-check";
import { readModelRunView } from "../projections/run-view";
import type { LiveEmitter } from "../projections/live-changes";
import { limitVariable, type ApiLimits } from "./api-limits";
import { assertAllowed, type Access, type ApiAuth } from "./auth";
import {
  checkDocumentText,
  CostCheck,
  parseOptions,
  shapeRules,
  tokenLimitMessage,
  tokensOver,
  validateSubscription,
} from "./document-limits";
import { createErrorFormatter } from "./error-formatter";
import { sendCodedError } from "./http-errors";
import { LiveFeed } from "./live-feed";
import { ProjectorBoard } from "./projector-board";
import { createProjectorResolvers, projectorsFeed } from "./projector-resolvers";
import { createResolvers } from "./resolvers";
import { schema } from "./schema";
import { createTriggerResolvers, triggerSchema } from "./trigger-resolvers";
import { TriggerCounters } from "../triggers/trigger-counters";
import type { WebhookOptions } from "../triggers/webhook-plugin";
import { createScheduleResolvers } from "./schedule-resolvers";
import { scheduleSchema } from "./schedule-schema";
import { createRunOperationResolvers, runOperationSchema } from "./run-operation-resolvers";
import { listProcesses, WORKERS_FEED } from "./registry-queries";
import { SocketGuard, withSubscriptionSlots } from "./socket-guard";
import { readStats, STATS_FEED, type LagSource } from "./stats";

export interface GraphqlPluginOptions {
  config: WeftConfig;
  db: ReadModelDb;
  logger: Logger;
  commands: Pick<CommandProducer, "send" | "partitionEnd" | "partitionFor">;
  /** How long a signal or cancel waits for the projector to reach its run's start. */
  runCheck?: RunCheckOptions;
  auth: ApiAuth;
  /** Consumer lag for the stats' backlogs; without it they read 0. */
  lag?: LagSource;
  /** Live updates from the projector, from the backends (the caller closes it). */
  live: LiveEmitter;
  /** What a document, a client and a WebSocket may cost. */
  limits: ApiLimits;
  /** The triggers of this process, for the `triggers` query; default none. */
  triggers?: Pick<WebhookOptions, "triggers" | "counters">;
  /** Where `weft_api_errors_total` is registered; without it, errors are not counted. */
  registry?: Registry;
}

/**
 * `weft_api_errors_total{code}`: GraphQL errors answered, by their code. NOT_ACKNOWLEDGED shows
 * Kafka holding commands; INTERNAL Weft's own faults.
 */
function errorCounter(registry: Registry | undefined): (code: string) => void {
  if (!registry) return () => undefined;
  const counter = new Counter({
    name: "weft_api_errors_total",
    help: "GraphQL errors answered, by their code",
    labelNames: ["code"],
    registers: [registry],
  });
  return (code) => counter.inc({ code });
}

/** How often stats are recomputed at most while runs change, for their subscribers. */
const STATS_INTERVAL_MS = 1000;

/**
 * Mounts GraphQL at /graphql: queries and mutations over HTTP, subscriptions over WebSocket
 * (graphql-transport-ws and graphql-ws protocols). Work is refused in the order it costs
 * nothing, then little: a request without a valid token before its body is read (HTTP) or
 * before anything it sends is handled (WebSocket), a document that is too long or not GraphQL
 * text before it is parsed, one with too many tokens while it is parsed, too deep or with too
 * many aliases or directives when it is validated, too costly before it runs (document-limits);
 * mutations are rate-limited per client address. Live updates come from the projector through
 * Redis, or in embedded mode an emitter in the process (LiveFeed).
 */
export async function graphqlPlugin(app: FastifyInstance, options: GraphqlPluginOptions) {
  const { config, db, logger, commands, auth, limits } = options;
  app.addHook("onRequest", (request, reply, done) => {
    // A WebSocket authenticates in its connection_init (SocketGuard).
    if (!auth.enabled || isUpgrade(request)) return done();
    if (auth.accessOf(request.headers.authorization) !== "none") return done();
    reply.header("www-authenticate", 'Bearer realm="weft"');
    sendCodedError(
      reply,
      401,
      "UNAUTHENTICATED",
      "this API needs a bearer token: send Authorization: Bearer <token>",
    );
  });
  app.addHook("preValidation", (request, reply, done) => {
    if (isUpgrade(request)) return done();
    const refusal = checkRequest(request, limits);
    if (!refusal) return done();
    sendCodedError(reply, refusal.status, refusal.code, refusal.message);
  });
  // Other methods would otherwise fall through to a 404.
  app.route({
    method: ["PUT", "PATCH", "DELETE"],
    url: "/graphql",
    handler: (_request, reply) =>
      sendCodedError(
        reply.header("allow", "GET, POST"),
        405,
        "METHOD_NOT_ALLOWED",
        "use POST (or GET for queries) on /graphql",
      ),
  });
  await app.register(rateLimit, { global: false });
  const mutationLimit = app.createRateLimit({
    max: limits.mutationsPerMinute,
    timeWindow: 60_000,
  });
  const emitter = options.live;
  const board = new ProjectorBoard({ config, emitter, logger });
  const feed = new LiveFeed({
    config,
    db,
    emitter,
    logger,
    publish: (topic, payload) => void app.graphql.pubsub.publish({ topic, payload }),
    derived: [
      {
        name: STATS_FEED,
        read: () => readStats(db, config, options.lag),
        minIntervalMs: STATS_INTERVAL_MS,
        // Backlogs move without any row changing.
        refreshMs: 5000,
      },
      {
        name: WORKERS_FEED,
        read: () => listProcesses(db, true),
        minIntervalMs: 500,
        // A process turns stale by silence: no message says so.
        refreshMs: 2000,
        triggers: ["processes"],
      },
      projectorsFeed(board),
    ],
  });
  const guard = new SocketGuard({
    limits,
    admits: (payload) => !auth.enabled || auth.accessOf(authorizationOf(payload)) !== "none",
    logger: app.log,
  });
  // Registered here (mercurius uses it when present) so the guard sees every socket; frames
  // are limited to 1 MiB, as mercurius would. A burst of frames is handled one per turn of the
  // event loop, so it cannot hold up every other request until the last frame is handled.
  await app.register(websocket, {
    options: { maxPayload: 1024 * 1024, allowSynchronousEvents: false },
  });
  // No "Did you mean …" field hints for callers without a token: with auth on, only token
  // holders reach validation; with auth off, nobody holds one.
  const hideSuggestions = !auth.enabled;
  // graphql-js's own option (mercurius' types predate it; 100 is graphql-js's default).
  const validateOptions = { maxErrors: 100, hideSuggestions };
  await app.register(mercurius, {
    schema: schema + triggerSchema + scheduleSchema + runOperationSchema,
    resolvers: withSubscriptionSlots(
      [
        createResolvers({
          db,
          commands,
          feed,
          runs: readModelRunView(db, config),
          runCheck: options.runCheck,
          log: logger.child({ component: "api" }),
        }),
        createProjectorResolvers({ board, feed }),
        createTriggerResolvers(
          options.triggers ?? { triggers: [], counters: new TriggerCounters() },
        ),
        createScheduleResolvers({
          db,
          commands,
          runs: readModelRunView(db, config),
          runCheck: options.runCheck,
          log: logger.child({ component: "api" }),
        }),
        createRunOperationResolvers({
          db,
          commands,
          runs: readModelRunView(db, config),
          runCheck: options.runCheck,
          log: logger.child({ component: "api" }),
        }),
      ].reduce(mergeResolvers),
      guard,
    ),
    path: "/graphql",
    graphiql: false,
    // Compiles a query the second time it is seen: the dashboard and clients repeat theirs.
    jit: 1,
    // Parsed documents and refused ones, each bounded by the token and size limits.
    cache: limits.documentCacheSize,
    graphql: { parseOptions: parseOptions(limits), validateOptions },
    validationRules: shapeRules(limits),
    context: (request): { access: Access } => ({
      access: auth.accessOf(request.headers.authorization),
    }),
    subscription: {
      // The token comes in connection_init's payload: `{ authorization: "Bearer …" }`; the
      // guard has closed a socket without one already.
      onConnect: ({ payload }: { payload?: unknown }) => {
        const access = auth.accessOf(authorizationOf(payload));
        return access === "none" ? false : { access };
      },
      keepAlive: 15_000,
    },
    errorFormatter: createErrorFormatter(errorCounter(options.registry)),
  });
  guard.attach(app.websocketServer);
  const cost = new CostCheck(() => app.graphql.schema, limits);
  app.graphql.addHook("preExecution", async (_schema, document, context, variables) => {
    const operation = operationOf(document);
    assertAllowed(accessOf(context), operation);
    const errors = cost.errors(document, variables as Record<string, unknown> | undefined);
    if (errors.length > 0) throw validationFailed(errors);
    if (operation === "mutation") await limitMutations(mutationLimit, context, limits);
  });
  app.graphql.addHook("preSubscriptionParsing", (_schema, source) => {
    const refusal = checkDocumentText(source, limits);
    if (refusal)
      throw new mercurius.ErrorWithProps(refusal.message, { code: refusal.code }, refusal.status);
    return Promise.resolve();
  });
  app.graphql.addHook("preSubscriptionExecution", (schema, document, context, id) => {
    assertAllowed(accessOf(context), "subscription");
    if (tokensOver(document, limits)) {
      throw validationFailed([], tokenLimitMessage(limits));
    }
    const errors = validateSubscription(schema, document, limits, cost, hideSuggestions);
    if (errors.length > 0) throw validationFailed(errors);
    guard.reserve(requestOf(context), id);
    return Promise.resolve();
  });
  await board.start();
  await feed.start();
  app.addHook("onClose", async () => {
    guard.stop();
    await feed.stop();
    await board.stop();
  });
}

/** Resolvers of two modules, type by type (no field is defined twice). */
function mergeResolvers(a: IResolvers, b: IResolvers): IResolvers {
  const merged: Record<string, unknown> = { ...a };
  for (const [type, fields] of Object.entries(b)) {
    merged[type] = { ...(a[type] as object | undefined), ...(fields as object) };
  }
  return merged as IResolvers;
}

/** The text checks on an HTTP request's document (POST body or GET query string). */
function checkRequest(request: FastifyRequest, limits: ApiLimits) {
  const params = (request.method === "GET" ? request.query : request.body) as
    { query?: unknown } | null | undefined;
  // Anything but an object is refused by the route's own schema, with BAD_REQUEST.
  if (typeof params !== "object" || params === null || Array.isArray(params)) return undefined;
  if (params.query === undefined) {
    return { status: 400, code: "BAD_REQUEST" as const, message: "query is required" };
  }
  return checkDocumentText(params.query, limits);
}

function isUpgrade(request: FastifyRequest): boolean {
  return request.headers.upgrade?.toLowerCase() === "websocket";
}

function authorizationOf(payload: unknown): unknown {
  return (payload as { authorization?: unknown } | null | undefined)?.authorization;
}

function requestOf(context: unknown) {
  return (context as { request?: FastifyRequest }).request?.raw;
}

function validationFailed(errors: readonly GraphQLError[], message?: string) {
  return new mercurius.ErrorWithProps(
    message ?? errors.map((e) => e.message).join("; "),
    { code: "GRAPHQL_VALIDATION_FAILED" },
    400,
  );
}

type MutationLimit = ReturnType<FastifyInstance["createRateLimit"]>;

async function limitMutations(limit: MutationLimit, context: unknown, limits: ApiLimits) {
  const reply = (context as { reply?: FastifyReply }).reply;
  if (!reply) return;
  const result = await limit(reply.request);
  if (result.isAllowed || !result.isExceeded) return;
  reply.header("retry-after", String(result.ttlInSeconds));
  throw new mercurius.ErrorWithProps(
    `more than ${limits.mutationsPerMinute} mutations a minute from this address (${limitVariable("mutationsPerMinute")}): retry in ${result.ttlInSeconds} s`,
    { code: "RATE_LIMITED" },
    429,
  );
}

function accessOf(context: unknown): Access {
  return (context as { access?: Access }).access ?? "none";
}

/** A document with any mutation in it is a mutation. */
function operationOf(document: DocumentNode): "query" | "mutation" | "subscription" {
  let kind: "query" | "mutation" | "subscription" = "query";
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (definition.operation === OperationTypeNode.MUTATION) return "mutation";
    if (definition.operation === OperationTypeNode.SUBSCRIPTION) kind = "subscription";
  }
  return kind;
}
