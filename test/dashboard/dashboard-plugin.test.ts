/** The dashboard's HTTP side, through inject(): assets, client routes, and the API's own paths. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { DASHBOARD_NOT_BUILT, dashboardPlugin } from "../../graphql/dashboard-plugin";

let dist: string;

beforeAll(() => {
  dist = mkdtempSync(join(tmpdir(), "weft-dashboard-"));
  mkdirSync(join(dist, "assets"));
  writeFileSync(join(dist, "index.html"), "<!doctype html><title>Weft</title>");
  writeFileSync(join(dist, "assets", "index-abc.js"), "console.log('weft')");
});

afterAll(() => rmSync(dist, { recursive: true, force: true }));

async function server(distDir: string): Promise<FastifyInstance> {
  const app = Fastify();
  app.get("/healthz", () => ({ ok: true }));
  app.get("/metrics", () => "weft_up 1\n");
  app.post("/graphql", () => ({ data: {} }));
  app.get("/graphql", () => ({ data: {} }));
  await app.register(dashboardPlugin, { distDir });
  await app.ready();
  return app;
}

it("serves index.html at / and at every client route, assets with long caching", async () => {
  const app = await server(dist);
  try {
    for (const url of ["/", "/runs", "/runs/order%2F42", "/workers?x=1", "/timers"]) {
      const res = await app.inject({ url });
      expect([url, res.statusCode]).toEqual([url, 200]);
      expect(res.headers["content-type"]).toContain("text/html");
      expect(res.body).toContain("<title>Weft</title>");
    }
    const asset = await app.inject({ url: "/assets/index-abc.js" });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["cache-control"]).toContain("immutable");
    expect((await app.inject({ url: "/assets/missing.js" })).statusCode).toBe(404);
  } finally {
    await app.close();
  }
});

it("never shadows the API's own paths", async () => {
  const app = await server(dist);
  try {
    expect((await app.inject({ url: "/healthz" })).json()).toEqual({ ok: true });
    expect((await app.inject({ url: "/metrics" })).body).toBe("weft_up 1\n");
    expect((await app.inject({ url: "/graphql" })).json()).toEqual({ data: {} });
    const post = await app.inject({ method: "POST", url: "/graphql", payload: { query: "{a}" } });
    expect(post.json()).toEqual({ data: {} });
    for (const url of ["/graphql/x", "/readyz", "/metrics/x"]) {
      const res = await app.inject({ url });
      expect([url, res.statusCode]).toEqual([url, 404]);
      expect(res.body).not.toContain("<title>");
    }
  } finally {
    await app.close();
  }
});

it("says how to build the dashboard when it is not built", async () => {
  const app = await server(join(dist, "nothing-here"));
  try {
    const res = await app.inject({ url: "/" });
    expect(res.statusCode).toBe(503);
    expect(res.body).toBe(DASHBOARD_NOT_BUILT);
    expect(res.body).toContain("npm run build");
    expect((await app.inject({ url: "/runs" })).body).toBe(DASHBOARD_NOT_BUILT);
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
  } finally {
    await app.close();
  }
});
