import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import helmet from "@fastify/helmet";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { packageRoot } from "../core/package-root";

export interface DashboardOptions {
  /** The built dashboard (`vite build`); default `dashboard/dist` in Weft's package. */
  distDir?: string;
}

/** Paths the API itself answers: the dashboard's client-side routes never shadow them. */
const RESERVED = ["/graphql", "/healthz", "/readyz", "/metrics"];

export const DASHBOARD_NOT_BUILT =
  "The Weft dashboard is not built: run `npm run build` (or `npm run build:dashboard`), then reload.\n";

/**
 * Serves the dashboard at `/`: hashed assets under /assets/ (cached for good), and index.html
 * for `/` and every client route (/runs/…, /workers, …), so a reload or a shared link lands on
 * the right page. When the dashboard is not built, `/` says how to build it. Every answer carries
 * security headers (a strict Content-Security-Policy, no framing, no MIME sniffing).
 */
export async function dashboardPlugin(
  app: FastifyInstance,
  options: DashboardOptions,
): Promise<void> {
  // Scripts, styles and the API from this origin only; never framed (clickjacking). Weft does
  // not terminate TLS, so no HSTS and no upgrade of http:// requests.
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        fontSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: "deny" },
    strictTransportSecurity: false,
  });
  const dist = options.distDir ?? defaultDistDir();
  const indexFile = join(dist, "index.html");
  const built = existsSync(indexFile);
  if (built) {
    await app.register(fastifyStatic, {
      root: join(dist, "assets"),
      prefix: "/assets/",
      decorateReply: false,
      index: false,
      immutable: true,
      maxAge: "365d",
    });
  }

  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split("?")[0] ?? "/";
    if (
      RESERVED.some((r) => path === r || path.startsWith(`${r}/`)) ||
      path.startsWith("/assets/")
    ) {
      return reply.code(404).type("text/plain; charset=utf-8").send(`Not found: ${path}\n`);
    }
    if (!built) return reply.code(503).type("text/plain; charset=utf-8").send(DASHBOARD_NOT_BUILT);
    // Read on each request (it is small): a rebuilt dashboard is served without a restart.
    const html = await readFile(indexFile);
    return reply.type("text/html; charset=utf-8").header("cache-control", "no-cache").send(html);
  };
  app.get("/", page);
  app.get("/*", page);
}

/** `dashboard/dist` in Weft's package: built there in a checkout, shipped there in the package. */
function defaultDistDir(): string {
  return join(packageRoot(), "dashboard", "dist");
}
