import type { ReadModelDb } from "../projections/read-model-db";
import type { FastifyInstance } from "fastify";
import { Kind, OperationTypeNode, type DocumentNode } from "graphql";
import mercurius from "mercurius";
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import type { CommandProducer } from "../producers/command-producer";
import { closeLiveEmitter, createLiveEmitter, type LiveEmitter } from "../projections/live-changes";
import { assertAllowed, type Access, type ApiAuth } from "./auth";
import { LiveFeed } from "./live-feed";
import { createResolvers } from "./resolvers";
import { schema } from "./schema";
import { listProcesses, WORKERS_FEED } from "./registry-queries";
import { readStats, STATS_FEED, type LagSource } from "./stats";

export interface GraphqlPluginOptions {
  config: WeftConfig;
  db: ReadModelDb;
  logger: Logger;
  commands: Pick<CommandProducer, "send">;
  auth: ApiAuth;
  /** Consumer lag for the stats' backlogs; without it they read 0. */
  lag?: LagSource;
  /** Live updates from the projector (the caller closes it); default one over Redis. */
  live?: LiveEmitter;
}

/** How often stats are recomputed at most while runs change, for their subscribers. */
const STATS_INTERVAL_MS = 1000;

/**
 * Mounts GraphQL at /graphql: queries and mutations over HTTP, subscriptions over WebSocket
 * (graphql-transport-ws and graphql-ws protocols). Query depth is capped so no query can run
 * away. Live updates come from the projector through Redis, or in embedded mode an emitter in the
 * process (LiveFeed).
 */
export async function graphqlPlugin(app: FastifyInstance, options: GraphqlPluginOptions) {
  const { config, db, logger, commands, auth } = options;
  // mercurius checks the body is an object but not that `query` is text.
  app.addHook("preValidation", async (request, reply) => {
    const body = request.body as { query?: unknown } | null | undefined;
    if (
      request.method === "POST" &&
      typeof body === "object" &&
      body !== null &&
      body.query !== undefined &&
      typeof body.query !== "string"
    ) {
      return reply.code(400).send({
        data: null,
        errors: [{ message: "query must be a string", extensions: { code: "INVALID_INPUT" } }],
      });
    }
    return undefined;
  });
  const emitter = options.live ?? createLiveEmitter(config, logger);
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
    ],
  });
  await app.register(mercurius, {
    schema,
    resolvers: createResolvers({ db, commands, feed }),
    path: "/graphql",
    graphiql: false,
    // Compiles a query the second time it is seen: the dashboard and clients repeat theirs.
    jit: 1,
    queryDepth: 8,
    context: (request): { access: Access } => ({
      access: auth.accessOf(request.headers.authorization),
    }),
    subscription: {
      // The token comes in connection_init's payload: `{ authorization: "Bearer …" }`. The
      // connection is accepted either way; each subscription is then allowed or refused with
      // a coded error, as queries are.
      onConnect: ({ payload }: { payload?: { authorization?: unknown } | null }) => ({
        access: auth.accessOf(payload?.authorization),
      }),
      keepAlive: 15_000,
    },
    errorFormatter: (execution, context) => {
      const formatted = mercurius.defaultErrorFormatter(execution, context);
      const invalid = formatted.statusCode === 400;
      const errors = formatted.response.errors?.map((error) => {
        const code = (error.extensions as { code?: unknown } | undefined)?.code;
        if (typeof code === "string") return error;
        // A request that does not parse or validate against the schema: the client's input.
        if (invalid)
          return { ...error, extensions: { ...error.extensions, code: "INVALID_INPUT" } };
        // Anything else is ours: logged whole, and the client gets no internals.
        logger.error({ error: error.message, path: error.path }, "GraphQL internal error");
        return {
          message: "internal error: see the Weft API log",
          locations: error.locations,
          path: error.path,
          extensions: { code: "INTERNAL" },
        };
      });
      return { ...formatted, response: { ...formatted.response, errors } };
    },
  });
  app.graphql.addHook("preExecution", (_schema, document, context) => {
    assertAllowed(accessOf(context), operationOf(document));
    return Promise.resolve();
  });
  app.graphql.addHook("preSubscriptionExecution", (_schema, _document, context) => {
    assertAllowed(accessOf(context), "subscription");
    return Promise.resolve();
  });
  await feed.start();
  app.addHook("onClose", async () => {
    await feed.stop();
    if (!options.live) await closeLiveEmitter(emitter);
  });
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
