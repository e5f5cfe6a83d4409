/**
 * Issue row 5: a caller's mistakes were answered INTERNAL, with the useful message hidden and an
 * error-level log line, so anyone could fill the error log. Now each gets a client code, a 4xx
 * status and its message, and is logged below error level; INTERNAL is left for Weft's own
 * faults. Through real HTTP on both backends, and the CLI as a child process.
 */
import { createInProcessLiveEmitter } from "../../adapters/in-process/live-emitter";
import { closeLiveEmitter } from "../../projections/live-changes";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { loadConfig } from "../../core/config";
import { createApiServer } from "../../graphql/server";
import { CommandProducer } from "../../producers/command-producer";
import { migrate } from "../../projections/migrate";
import { ReadModelDb } from "../../projections/read-model-db";
import { EmbeddedKafka } from "../../adapters/embedded";
import { tempDir } from "../embedded/helpers";
import {
  BACKENDS,
  capturingLogger,
  codesOf,
  ERROR_LEVEL,
  httpRaw,
  postRaw,
  startTestApi,
  type RawResponse,
  type TestApi,
} from "./harness";

const ROOT = join(__dirname, "..", "..");

const messages = (res: RawResponse) =>
  ((JSON.parse(res.body) as { errors?: { message: string }[] }).errors ?? []).map((e) => e.message);

describe.each(BACKENDS)("on the %s backend", (backend) => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startTestApi(backend);
  });

  afterAll(async () => {
    await api?.stop();
  });

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    postRaw(api.address, typeof body === "string" ? body : JSON.stringify(body), headers);

  it("two validation errors in one query: both, with their messages, 400", async () => {
    const res = await post({ query: "{ nope stats { nah } }" });
    expect(res.status).toBe(400);
    expect(codesOf(res.body)).toEqual(["GRAPHQL_VALIDATION_FAILED", "GRAPHQL_VALIDATION_FAILED"]);
    expect(messages(res).join("\n")).toMatch(/Cannot query field "nope" on type "Query"/);
    expect(messages(res).join("\n")).toMatch(/Cannot query field "nah" on type "Stats"/);
  });

  it("a document that does not parse: GRAPHQL_VALIDATION_FAILED, 400", async () => {
    const res = await post({ query: "{ stats { at }" });
    expect([res.status, codesOf(res.body)]).toEqual([400, ["GRAPHQL_VALIDATION_FAILED"]]);
    expect(messages(res)[0]).toMatch(/Syntax Error/);
  });

  it("bad variables: BAD_USER_INPUT, 400, naming the value", async () => {
    const query = `query ($s: WorkflowStatus, $n: Int!) { workflows(first: $n, filter: { status: $s }) { nodes { id } } }`;
    const weird = await post({ query, variables: { s: "WEIRD", n: 1 } });
    expect([weird.status, codesOf(weird.body)]).toEqual([400, ["BAD_USER_INPUT"]]);
    expect(messages(weird)[0]).toMatch(/WEIRD/);
    // Again and again: from the second time the query is compiled, and checks its variables
    // itself.
    for (let i = 0; i < 3; i++) {
      const missing = await post({ query, variables: {} });
      expect([missing.status, codesOf(missing.body)]).toEqual([400, ["BAD_USER_INPUT"]]);
    }
  });

  it("405 for a mutation over GET and for other methods", async () => {
    const mutation = encodeURIComponent(
      `mutation { cancelWorkflow(workflowId: "x") { accepted } }`,
    );
    const get = await httpRaw(api.address, "GET", `/graphql?query=${mutation}`);
    expect([get.status, codesOf(get.body)]).toEqual([405, ["METHOD_NOT_ALLOWED"]]);
    for (const method of ["PUT", "DELETE", "PATCH"]) {
      const res = await httpRaw(api.address, method, "/graphql");
      expect([method, res.status, codesOf(res.body)]).toEqual([
        method,
        405,
        ["METHOD_NOT_ALLOWED"],
      ]);
      expect(res.headers.allow).toBe("GET, POST");
    }
  });

  it("413 for a body over 2 MiB", async () => {
    const res = await post({
      query: "{ stats { at } }",
      variables: { x: "x".repeat(2.1 * 2 ** 20) },
    });
    expect([res.status, codesOf(res.body)]).toEqual([413, ["PAYLOAD_TOO_LARGE"]]);
  });

  it("a form or text/plain body (what a page can send without CORS) is refused", async () => {
    const body = `{"query":"mutation { cancelWorkflow(workflowId: \\"x\\") { accepted } }"}`;
    const form = await post(body, { "content-type": "application/x-www-form-urlencoded" });
    expect([form.status, codesOf(form.body)]).toEqual([415, ["UNSUPPORTED_MEDIA_TYPE"]]);
    // Read as a string, which is not a GraphQL request.
    const text = await post(body, { "content-type": "text/plain" });
    expect([text.status, codesOf(text.body)]).toEqual([400, ["BAD_REQUEST"]]);
  });

  it("400 BAD_REQUEST for malformed JSON, no query, or a body that is not an object", async () => {
    for (const body of ["{", "{}", "null", "[1]", JSON.stringify({ query: { a: 1 } })]) {
      const res = await post(body);
      expect([body, res.status, codesOf(res.body)]).toEqual([body, 400, ["BAD_REQUEST"]]);
    }
  });

  it("none of these mistakes is logged at error level", () => {
    expect(api.logs.filter((line) => line.level >= ERROR_LEVEL)).toEqual([]);
  });

  it("weft workflow list --status weird: a client code and exit 2", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "cli/weft.ts", "workflow", "list", "--status", "weird"],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, WEFT_API_URL: api.address },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(code).toBe(2);
    expect(stderr.trim()).toMatch(/^weft: BAD_USER_INPUT: .*WEIRD/);
  });
});

it("Weft's own fault is INTERNAL, logged at error level with what went wrong", async () => {
  const { dir, cleanup } = tempDir();
  const { logger, lines } = capturingLogger();
  const config = loadConfig({ topicPrefix: "internal", databaseUrl: `sqlite:${dir}/broken.db` });
  const kafka = await EmbeddedKafka.open({ directory: dir, sync: "never" });
  const commands = new CommandProducer(kafka, config);
  const db = ReadModelDb.sqlite(join(dir, "broken.db"));
  await migrate(db);
  await db.close();
  const live = createInProcessLiveEmitter();
  const server = await createApiServer({ config, db, logger, commands, live });
  try {
    const res = await server.inject({
      method: "POST",
      url: "/graphql",
      payload: { query: `{ workflow(id: "x") { id } }` },
    });
    const body = res.json<{ errors: { message: string; extensions: { code: string } }[] }>();
    expect(body.errors.map((e) => e.extensions.code)).toEqual(["INTERNAL"]);
    expect(body.errors[0]!.message).toBe("internal error: see the Weft API log");
    const logged = lines.filter((l) => l.level >= ERROR_LEVEL);
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged[0])).toMatch(/closed/i);
  } finally {
    await server.close();
    await closeLiveEmitter(live);
    await kafka.close();
    cleanup();
  }
});
