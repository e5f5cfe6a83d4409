/**
 * The API under attack, on either backend: `embedded` (the embedded log, read models in a
 * SQLite file, live updates in memory — what `weft dev` runs) or `server` (Kafka, PostgreSQL
 * and Redis, topics and a schema of its own). In this process (`startTestApi`, listening on a
 * loopback port) or as a child process the test measures from outside (`spawnWeft`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import WebSocket from "ws";
import type { ApiLimits } from "../../graphql/api-limits";
import { serverBackends } from "../../adapters/server-backends";
import { startApiRole } from "../../graphql/api-role";
import type { ApiTokens } from "../../graphql/auth";
import type { BrowserPolicy } from "../../graphql/browser-guard";
import { openReadModelDb, ReadModelDb } from "../../projections/read-model-db";
import { startEmbedded } from "../../sdk/embedded";
import { tempDir } from "../embedded/helpers";
import { isolatedConfig, waitFor } from "../support/env";
import { createTestSchema } from "../support/postgres";
import { kafkaFor } from "../support/weft";

export type Backend = "embedded" | "server";

/** `WEFT_SECURITY_BACKENDS=embedded` (or `server`) runs one. */
export const BACKENDS: readonly Backend[] = (
  process.env.WEFT_SECURITY_BACKENDS ?? "embedded,server"
)
  .split(",")
  .filter((b): b is Backend => b === "embedded" || b === "server");

export const ADMIN = "security-admin-token-0123456789";
export const READER = "security-read-token-0123456789";
export const AUTH_ON: ApiTokens = { admin: [ADMIN], read: [READER] };
export const AUTH_OFF: ApiTokens = { admin: [], read: [] };

export interface LogLine {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

/** Every line a logger wrote at `level` or above, parsed. */
export function capturingLogger(level = "debug") {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split("\n")) {
        if (text) lines.push(JSON.parse(text) as LogLine);
      }
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

/** pino's level numbers. */
export const ERROR_LEVEL = 50;

export interface TestApi {
  readonly backend: Backend;
  /** e.g. `http://127.0.0.1:40123` */
  readonly address: string;
  readonly server: FastifyInstance;
  /** What the API's process logged since it started. */
  readonly logs: LogLine[];
  /** Another handle on the API's read models, to put rows in. */
  readonly db: ReadModelDb;
  stop(): Promise<void>;
}

export interface TestApiOptions {
  tokens?: ApiTokens;
  limits?: Partial<ApiLimits>;
  browser?: BrowserPolicy;
  metricsToken?: string;
}

/** The api role (and, embedded, the projector) on the backend, listening on a free port. */
export async function startTestApi(
  backend: Backend,
  options: TestApiOptions = {},
): Promise<TestApi> {
  const { logger, lines } = capturingLogger();
  const listen = {
    port: 0,
    tokens: options.tokens ?? AUTH_OFF,
    limits: options.limits,
    browser: options.browser,
    metricsToken: options.metricsToken,
  };
  if (backend === "embedded") {
    const { dir, cleanup } = tempDir();
    const config = isolatedConfig({ redisUrl: "redis://127.0.0.1:1" });
    const file = join(dir, "read-models.db");
    const weft = await startEmbedded({
      dir,
      api: listen,
      database: () => ReadModelDb.sqlite(file),
      sync: "never",
      config,
      logger,
    });
    const db = ReadModelDb.sqlite(file);
    return {
      backend,
      address: weft.api!.address,
      server: weft.api!.server,
      logs: lines,
      db,
      async stop() {
        await db.close();
        await weft.stop();
        cleanup();
      },
    };
  }
  const schema = await createTestSchema();
  const config = isolatedConfig({ databaseUrl: schema.databaseUrl });
  const kafka = kafkaFor(config);
  const readSide = serverBackends(config, logger, { transport: kafka }).readSide;
  const role = await startApiRole({ config, kafka, logger, listen, env: {}, readSide });
  const db = openReadModelDb(config, logger);
  return {
    backend,
    address: role.address,
    server: role.server,
    logs: lines,
    db,
    async stop() {
      await db.close();
      await role.stop();
      await schema.drop();
    },
  };
}

export interface WeftProcess {
  readonly pid: number;
  /** e.g. `http://127.0.0.1:40123` */
  readonly address: string;
  /** Resident memory of the process now, in bytes (from /proc). */
  rss(): number;
  output(): string;
  stop(): Promise<void>;
}

const ROOT = join(__dirname, "..", "..");

/**
 * Weft as a user runs it, in a child process hosting every role on the test fixtures:
 * `weft dev` (embedded) or `weft start --roles api,projector,decider,worker` (server).
 */
export async function spawnWeft(
  backend: Backend,
  env: Record<string, string>,
): Promise<WeftProcess> {
  const { dir, cleanup } = tempDir();
  const config = isolatedConfig();
  const schema = backend === "server" ? await createTestSchema() : undefined;
  const module = "test/fixtures/dev-module.ts";
  const args =
    backend === "embedded"
      ? ["dev", module, "--dir", dir]
      : ["start", module, "--roles", "api,projector,decider,worker"];
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, "bin", "weft.js"), ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: "0",
      WEFT_LOG_LEVEL: "warn",
      WEFT_TOPIC_PREFIX: config.topicPrefix,
      DATABASE_URL: schema?.databaseUrl ?? "",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const address = await waitFor(
    `weft ${args[0]} to be ready`,
    () => {
      if (child.exitCode !== null) throw new Error(`weft ${args[0]} exited:\n${output}`);
      return /GraphQL: (http:\/\/[^\s]+)\/graphql/.exec(output)?.[1];
    },
    60_000,
  );
  return {
    pid: child.pid!,
    address,
    rss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(killer);
      }
      await schema?.drop();
      cleanup();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Keeps connections open: a server answering before it read a body then discards the rest of
 * it, where with `Connection: close` it would close on a client still writing (EPIPE).
 */
const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });

/**
 * POSTs `body` with node:http, so the client allocates nothing per request and a large body
 * can be reused (changed in place) between requests.
 */
export function postRaw(
  address: string,
  body: Buffer | string,
  headers: Record<string, string> = {},
  path = "/graphql",
): Promise<RawResponse> {
  return httpRaw(address, "POST", path, headers, body);
}

/** Any request, with any headers (`host` included), as a browser or a script would send it. */
export function httpRaw(
  address: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${address}${path}`,
      {
        method,
        agent: keepAlive,
        headers: {
          ...(body === undefined
            ? {}
            : {
                "content-type": "application/json",
                "content-length": String(Buffer.byteLength(body)),
              }),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on("error", reject);
      },
    );
    // The server may answer before the whole body is written: the answer counts.
    req.on("error", reject);
    req.end(body);
  });
}

/** `GET path` timed from the request to the last byte of the answer, in ms. */
export async function timedGet(address: string, path: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${address}${path}`);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
  return performance.now() - started;
}

/** The codes of a GraphQL answer's errors. */
export function codesOf(body: string | { errors?: { extensions?: { code?: string } }[] }) {
  const parsed = (typeof body === "string" ? JSON.parse(body) : body) as {
    errors?: { extensions?: { code?: string } }[];
  };
  return (parsed.errors ?? []).map((e) => e.extensions?.code);
}

export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

export interface RawSocket {
  readonly ws: WebSocket;
  /** Every message the server sent, parsed. */
  readonly messages: { type: string; id?: string; payload?: unknown }[];
  /** Resolves with the close code and reason once the socket closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(message: Record<string, unknown>): void;
}

/**
 * A graphql-transport-ws socket with no client library in between, for what a library would
 * never send. Resolves once open; rejects with the HTTP status when the upgrade is refused.
 */
export function openSocket(
  address: string,
  headers: Record<string, string> = {},
): Promise<RawSocket> {
  const ws = new WebSocket(`${address.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws", {
    headers,
  });
  const messages: RawSocket["messages"] = [];
  ws.on("message", (data: Buffer) => messages.push(JSON.parse(data.toString()) as never));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return new Promise((resolve, reject) => {
    ws.once("open", () =>
      resolve({ ws, messages, closed, send: (message) => ws.send(JSON.stringify(message)) }),
    );
    ws.once("unexpected-response", (_req, res) => {
      reject(new Error(`upgrade refused: ${res.statusCode}`));
      ws.terminate();
    });
    ws.once("error", reject);
  });
}
