import type { FastifyInstance } from "fastify";

/** `/healthz`: the process is up and serving (liveness; it checks no dependency). */
export function healthPlugin(app: FastifyInstance, _options: unknown, done: () => void): void {
  app.get("/healthz", (_request, reply) => {
    void reply.send({ status: "ok" });
  });
  done();
}
