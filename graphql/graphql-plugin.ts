import type { FastifyInstance } from "fastify";
import mercurius from "mercurius";
import { createResolvers, type ResolverDeps } from "./resolvers";
import { schema } from "./schema";

/** Mounts the GraphQL endpoint at /graphql. Query depth is capped so no query can run away. */
export async function graphqlPlugin(app: FastifyInstance, deps: ResolverDeps): Promise<void> {
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
  await app.register(mercurius, {
    schema,
    resolvers: createResolvers(deps),
    path: "/graphql",
    graphiql: false,
    queryDepth: 8,
    errorFormatter: (execution, context) => {
      const formatted = mercurius.defaultErrorFormatter(execution, context);
      if (formatted.statusCode !== 400) return formatted;
      // A request that does not parse or validate against the schema: the client's input.
      const errors = formatted.response.errors?.map((error) => ({
        ...error,
        extensions: { code: "INVALID_INPUT", ...error.extensions },
      }));
      return { ...formatted, response: { ...formatted.response, errors } };
    },
  });
}
