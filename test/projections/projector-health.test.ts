/**
 * A projector that never wedges, and says how it fares: on a real broker, with the read models
 * on PostgreSQL (a schema of their own) and on SQLite (a file of their own), a projector and an
 * API in one process (so the API's /readyz carries the projector's check), a decider and a
 * worker beside them.
 *
 * - A record that does not decode goes to the DLQ and the partition carries on: /readyz stays
 *   200 and shows it, as do the metrics and the `projectors` query.
 * - A database that refuses writes stalls the projector at once (/readyz 503 naming the
 *   partition, the database and DATABASE_NOT_WRITABLE), and it recovers when writes come back.
 *   The tests run as root here, where a chmod does not stop a write, so the refusal is made in
 *   the database itself: on SQLite `PRAGMA query_only` on the projector's own connection (SQLite
 *   then answers SQLITE_READONLY, as for a read-only file); on PostgreSQL (whose test user is a
 *   superuser, above REVOKE) a trigger on the offsets table raising SQLSTATE 25006, what a
 *   read-only server (a standby) answers.
 * - PostgreSQL only: a batch blocked on a lock for longer than WEFT_PROJECTOR_STALL_MS stalls it.
 *
 * The start-time refusals of a damaged or read-only SQLite file (`weft dev`) and the naming of a
 * PostgreSQL database that cannot be reached are at the end.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import Database from "better-sqlite3";
import { Partitioners } from "kafkajs";
import { Client } from "pg";
import { loadConfig, topics, type WeftConfig } from "../../core/config";
import { createLogger } from "../../core/logger";
import { openReadModelDb, type ReadModelDb } from "../../projections/read-model-db";
import { startRuntime, type Runtime } from "../../sdk/runtime";
import { closeFixtures, steps, threeSteps, workflows } from "../fixtures/workflows";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { httpGql } from "../support/graphql-client";
import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from "../support/read-models";
import { freePort } from "../support/tcp-proxy";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";

const STALL_MS = 1500;

interface ProjectorCheckJson {
  ok: boolean;
  error?: string;
  code?: string;
  partitions: number;
  stalled: { topic: string; partition: number; fault: string; code?: string; error: string }[];
  deadLetters: {
    total: number;
    recent: number;
    last?: { topic: string; partition: number; offset: string; reason: string; kind: string };
  };
}

interface ReadyzBody {
  ready: boolean;
  failed?: string[];
  checks: Record<string, { ok: boolean; error?: string }> & { projector?: ProjectorCheckJson };
  waiting?: { role: string; dependency: string; error?: string; failures: number }[];
}

async function readyz(address: string): Promise<{ status: number; body: ReadyzBody }> {
  const res = await fetch(`${address}/readyz`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as ReadyzBody };
}

/** The series of `name` whose labels include `labels`, summed. */
async function metric(
  address: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`${address}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

const PROJECTORS = `{ projectors { id state partitions
  stalled { topic partition fault code error }
  deadLetters { total recent last { topic partition offset reason kind } } } }`;

interface ProjectorsData {
  projectors: {
    id: string;
    state: string;
    stalled: {
      topic: string;
      partition: number;
      fault: string;
      code: string | null;
      error: string;
    }[];
    deadLetters: {
      total: number;
      recent: number;
      last: { topic: string; partition: number; offset: string; reason: string } | null;
    };
  }[];
}

describe.each(TEST_DIALECTS)("projector health on %s", (dialect) => {
  let db: TestDatabase;
  let config: WeftConfig;
  let weft: TestWeft;
  let readSide: Runtime;
  let api: string;
  /** The projector's own connection to the read models. */
  let projectorDb: ReadModelDb | undefined;

  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    config = isolatedConfig({
      databaseUrl: db.databaseUrl,
      commandPartitions: 2,
      projectorStallMs: STALL_MS,
    });
    const logger = testLogger(config);
    weft = await startTestWeft(config, { workflows, steps });
    readSide = await startRuntime({
      config,
      logger,
      roles: ["projector", "api"],
      api: { port: 0 },
      backends: {
        transport: kafkaFor(config),
        readSide: {
          openDatabase: (options) => {
            const handle = openReadModelDb(config, logger, options);
            if (options.applicationName?.startsWith("weft projector")) projectorDb = handle;
            return handle;
          },
        },
      },
    });
    api = readSide.api!.address;
  });

  afterAll(async () => {
    await readSide?.stop();
    await weft?.stop();
    await closeFixtures();
    await db?.drop();
  });

  async function runToCompletion(): Promise<string> {
    const { workflowId } = await weft.client.start(threeSteps, { input: { n: 1 } });
    await waitFor(
      `run ${workflowId} completed in the read models`,
      async () => {
        const res = await httpGql<{ workflow: { status: string } | null }>(
          api,
          `query($id: String!) { workflow(id: $id) { status } }`,
          { id: workflowId },
        );
        return res.data?.workflow?.status === "COMPLETED";
      },
      60_000,
      100,
    );
    return workflowId;
  }

  it("sends a poison record to the DLQ, carries on, and shows it on /readyz, /metrics and projectors", async () => {
    const producer = kafkaFor(config).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const [sent] = await producer.send({
      topic: topics.history(config),
      messages: [{ key: "poison", partition: 0, value: Buffer.from("not avro"), headers: {} }],
    });
    await producer.disconnect();
    const offset = sent!.baseOffset!;

    await runToCompletion();
    const { status, body } = await waitFor(
      "/readyz to show the dead letter",
      async () => {
        const r = await readyz(api);
        return (r.body.checks.projector?.deadLetters.total ?? 0) >= 1 ? r : undefined;
      },
      30_000,
      100,
    );
    expect(status).toBe(200);
    expect(body.ready).toBe(true);
    expect(body.checks.projector).toMatchObject({
      ok: true,
      stalled: [],
      deadLetters: {
        total: 1,
        recent: 1,
        last: {
          topic: topics.history(config),
          partition: 0,
          offset,
          kind: "undecodable",
          reason: expect.stringContaining("expected schema"),
        },
      },
    });
    expect(
      await metric(api, "weft_projector_dead_letters_total", {
        source: "history",
        reason: "undecodable",
      }),
    ).toBe(1);
    expect(await metric(api, "weft_projector_dead_letters_total")).toBe(1);
    expect(await metric(api, "weft_dlq_records_total")).toBe(1);
    expect(await metric(api, "weft_projector_stalled")).toBe(0);
    expect(
      await metric(api, "weft_projector_lag_records", { topic: topics.history(config) }),
    ).toBeGreaterThanOrEqual(0);

    const listed = await waitFor("the projector's report with the dead letter", async () => {
      const res = await httpGql<ProjectorsData>(api, PROJECTORS);
      const me = res.data?.projectors.find((p) => p.id === config.clientId);
      return me && me.deadLetters.total >= 1 ? me : undefined;
    });
    expect(listed).toMatchObject({
      state: "READY",
      stalled: [],
      deadLetters: { total: 1, recent: 1, last: { partition: 0, offset } },
    });
  });

  it("is not ready at once when its database refuses writes, naming the partition and the database, and recovers", async () => {
    expect(projectorDb).toBeDefined();
    await refuseWrites(projectorDb!, true);
    let restored = false;
    try {
      const { workflowId } = await weft.client.start(threeSteps, { input: { n: 2 } });
      const history = topics.history(config);
      const { status, body } = await waitFor(
        "/readyz to name a stalled history partition",
        async () => {
          const r = await readyz(api);
          const stalled = r.body.checks.projector?.stalled ?? [];
          return stalled.some((s) => s.topic === history) ? r : undefined;
        },
        30_000,
        100,
      );
      expect(status).toBe(503);
      // A database that answers but refuses writes is the projector's failure, not a wait.
      expect(body.failed).toEqual(["projector"]);
      const check = body.checks.projector!;
      expect(check).toMatchObject({ ok: false, code: "DATABASE_NOT_WRITABLE" });
      expect(check.error).toMatch(
        new RegExp(`${history.replace(".", "\\.")} partition \\d+ cannot write to its database`),
      );
      const named =
        dialect === "sqlite"
          ? `SQLite file ${db.databaseUrl.slice("sqlite:".length)}`
          : `PostgreSQL database "weft" (schema ${new URL(db.databaseUrl).searchParams.get("options")!.split("=")[1]}) on 127.0.0.1:54329 as weft`;
      expect(check.error).toContain(named);
      expect(check.stalled.find((s) => s.topic === history)).toMatchObject({
        fault: "not_writable",
        code: "DATABASE_NOT_WRITABLE",
      });
      expect(await metric(api, "weft_projector_stalled", { topic: history })).toBeGreaterThan(0);
      expect(
        await metric(api, "weft_projector_errors_total", { kind: "not_writable" }),
      ).toBeGreaterThan(0);
      const stalled = await waitFor("the projector's report to say STALLED", async () => {
        const res = await httpGql<ProjectorsData>(api, PROJECTORS);
        const me = res.data?.projectors.find((p) => p.id === config.clientId);
        return me?.state === "STALLED" ? me : undefined;
      });
      expect(stalled.stalled[0]).toMatchObject({ code: "DATABASE_NOT_WRITABLE" });
      expect(stalled.stalled[0]!.error).toContain(named);

      await refuseWrites(projectorDb!, false);
      restored = true;
      await waitFor(
        `run ${workflowId} to be projected once writes come back`,
        async () => {
          const res = await httpGql<{ workflow: { status: string } | null }>(
            api,
            `query($id: String!) { workflow(id: $id) { status } }`,
            { id: workflowId },
          );
          return res.data?.workflow?.status === "COMPLETED";
        },
        60_000,
        200,
      );
      await waitFor("/readyz to be ready again", async () => (await readyz(api)).status === 200);
      expect(await metric(api, "weft_projector_stalled")).toBe(0);
    } finally {
      if (!restored) await refuseWrites(projectorDb!, false);
    }
  });

  // PostgreSQL only (not defined for SQLite): there a writer held up by another's lock waits
  // inside better-sqlite3, synchronously (busy_timeout), so no process could answer meanwhile.
  const onPostgres = dialect === "postgres" ? it : () => undefined;
  onPostgres(
    "is not ready when a batch hangs on a lock for longer than WEFT_PROJECTOR_STALL_MS",
    async () => {
      const locker = new Client({ connectionString: db.databaseUrl });
      await locker.connect();
      let locked = true;
      try {
        await locker.query("BEGIN");
        await locker.query("LOCK TABLE weft_projector_offsets IN ACCESS EXCLUSIVE MODE");
        const started = Date.now();
        const { workflowId } = await weft.client.start(threeSteps, { input: { n: 3 } });
        const { body } = await waitFor(
          "/readyz to name a batch that does not finish",
          async () => {
            const r = await readyz(api);
            return r.status === 503 ? r : undefined;
          },
          30_000,
          100,
        );
        expect(Date.now() - started).toBeGreaterThanOrEqual(STALL_MS);
        const hung = body.checks.projector!.stalled.find((s) => s.fault === "hung");
        expect(hung?.error).toMatch(
          /a batch( from offset \d+)? has run for [\d.]+ s without finishing/,
        );
        await locker.query("ROLLBACK");
        locked = false;
        await waitFor("/readyz to be ready again", async () => (await readyz(api)).status === 200);
        await waitFor(`run ${workflowId} projected`, async () => {
          const res = await httpGql<{ workflow: { status: string } | null }>(
            api,
            `query($id: String!) { workflow(id: $id) { status } }`,
            { id: workflowId },
          );
          return res.data?.workflow?.status === "COMPLETED";
        });
      } finally {
        if (locked) await locker.query("ROLLBACK").catch(() => undefined);
        await locker.end();
      }
    },
  );

  /** Makes the read models refuse the projector's writes, or take them again (see the header). */
  async function refuseWrites(handle: ReadModelDb, refuse: boolean): Promise<void> {
    if (dialect === "sqlite") {
      await handle.query(`PRAGMA query_only = ${refuse ? "ON" : "OFF"}`);
      return;
    }
    const admin = new Client({ connectionString: db.databaseUrl });
    await admin.connect();
    try {
      if (refuse) {
        await admin.query(`CREATE FUNCTION weft_test_read_only() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'cannot execute % in a read-only transaction', TG_OP USING ERRCODE = '25006'; END $$`);
        await admin.query(`CREATE TRIGGER weft_test_read_only BEFORE INSERT OR UPDATE ON weft_projector_offsets
          FOR EACH ROW EXECUTE FUNCTION weft_test_read_only()`);
      } else {
        await admin.query("DROP TRIGGER IF EXISTS weft_test_read_only ON weft_projector_offsets");
        await admin.query("DROP FUNCTION IF EXISTS weft_test_read_only()");
      }
    } finally {
      await admin.end();
    }
  }
});

describe("a read-model database that cannot be used", () => {
  const ROOT = join(__dirname, "..", "..");

  /** `weft dev` on `dir` until it exits; its exit code and what it wrote. */
  function weftDev(dir: string, env: Record<string, string> = {}) {
    return new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [join(ROOT, "bin", "weft.js"), "dev", "test/fixtures/dev-module.ts", "--dir", dir],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            PORT: "0",
            WEFT_LOG_LEVEL: "warn",
            WEFT_TOPIC_PREFIX: isolatedConfig().topicPrefix,
            DATABASE_URL: "",
            ...env,
          },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let output = "";
      child.stdout.on("data", (d: Buffer) => (output += d.toString()));
      child.stderr.on("data", (d: Buffer) => (output += d.toString()));
      const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.once("exit", (code) => {
        clearTimeout(killer);
        resolve({ code, output });
      });
    });
  }

  /** A valid, closed read-model file (WAL mode, as Weft leaves it). */
  function sqliteFile(file: string): void {
    const handle = new Database(file);
    handle.pragma("journal_mode = WAL");
    handle.exec("CREATE TABLE kept (x INTEGER)");
    handle.close();
  }

  /**
   * How this process can make a path read-only for itself: chmod for a user, `chattr +i` for
   * root (whom permissions do not stop; an immutable inode stops root too). Undefined when
   * neither bites here (root without CAP_LINUX_IMMUTABLE, or a file system without it).
   */
  const readOnly = (() => {
    if (process.getuid?.() !== 0) {
      return {
        how: "chmod",
        set: (path: string, dir: boolean) => chmodSync(path, dir ? 0o555 : 0o444),
        unset: (path: string, dir: boolean) => chmodSync(path, dir ? 0o755 : 0o644),
      };
    }
    const probe = mkdtempSync(join(tmpdir(), "weft-chattr-"));
    try {
      execFileSync("chattr", ["+i", probe], { stdio: "ignore" });
      execFileSync("chattr", ["-i", probe], { stdio: "ignore" });
      return {
        how: "chattr +i",
        set: (path: string) => execFileSync("chattr", ["+i", path]),
        unset: (path: string) => execFileSync("chattr", ["-i", path]),
      };
    } catch {
      console.warn(
        "running as root where chattr +i is not allowed: the read-only file cases are skipped",
      );
      return undefined;
    } finally {
      rmSync(probe, { recursive: true, force: true });
    }
  })();

  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "weft-bad-db-"));
    dirs.push(dir);
    return dir;
  }

  it("weft dev refuses a read-models.db that is not a database, naming it (DATABASE_CORRUPT)", async () => {
    const dir = tempDir();
    const file = join(dir, "read-models.db");
    writeFileSync(file, Buffer.alloc(16_384, "garbage "));
    const { code, output } = await weftDev(dir);
    expect(code).toBe(2);
    expect(output).toContain(
      `weft: DATABASE_CORRUPT: the read-model database ${file} is not a usable SQLite database (file is not a database)`,
    );
    expect(output).not.toMatch(/GraphQL: http/);
  });

  (readOnly ? it : it.skip)(
    "weft dev refuses a read-only read-models.db, and a database in a read-only directory, naming them (DATABASE_NOT_WRITABLE)",
    async () => {
      const dir = tempDir();
      const file = join(dir, "read-models.db");
      sqliteFile(file);
      readOnly!.set(file, false);
      try {
        const { code, output } = await weftDev(dir);
        expect(code).toBe(2);
        expect(output).toContain(
          `weft: DATABASE_NOT_WRITABLE: the read-model database ${file} cannot be written (attempt to write a readonly database)`,
        );
      } finally {
        readOnly!.unset(file, false);
      }

      const elsewhere = join(tempDir(), "locked");
      mkdirSync(elsewhere);
      const other = join(elsewhere, "weft.db");
      sqliteFile(other);
      readOnly!.set(elsewhere, true);
      try {
        const { code, output } = await weftDev(tempDir(), { DATABASE_URL: `sqlite:${other}` });
        expect(code).toBe(2);
        expect(output).toContain(
          `weft: DATABASE_NOT_WRITABLE: the read-model database ${other} cannot be written`,
        );
      } finally {
        readOnly!.unset(elsewhere, true);
      }
    },
  );

  it("names the PostgreSQL database it cannot reach on /readyz, without the password", async () => {
    const dbPort = await freePort();
    const metricsPort = await freePort();
    const url = `postgres://weft:s3cret-pw@127.0.0.1:${dbPort}/weft_named`;
    const config = loadConfig({
      ...isolatedConfig(),
      databaseUrl: url,
      metricsPort,
    });
    const stop = new AbortController();
    const started = startRuntime({
      config,
      logger: createLogger("silent"),
      roles: ["projector"],
      signal: stop.signal,
    });
    const failure = started.then(
      () => undefined,
      (err: unknown) => err,
    );
    try {
      const { body, text } = await waitFor(
        "/readyz to say why the projector waits",
        async () => {
          const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => undefined);
          if (!res) return undefined;
          const text = await res.text();
          const body = JSON.parse(text) as ReadyzBody;
          return body.waiting?.some((w) => w.role === "projector" && w.failures >= 1)
            ? { body, text }
            : undefined;
        },
        30_000,
        100,
      );
      expect(body.failed).toEqual(["postgres"]);
      expect(body.waiting![0]!.error).toContain(
        `PostgreSQL database "weft_named" on 127.0.0.1:${dbPort} as weft: connect ECONNREFUSED`,
      );
      expect(text).not.toContain("s3cret");
    } finally {
      stop.abort();
      expect(await failure).toMatchObject({ code: "STOPPED" });
    }
  });
});
