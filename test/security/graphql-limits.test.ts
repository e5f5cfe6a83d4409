/**
 * Every limit a GraphQL document is held to, one test each, through real HTTP on both backends:
 * size, shape, tokens, depth, aliases, directives, cost (issue row 3: 50 aliases of a 100-run
 * page with every history), the mutation rate, and field suggestions (row 8). Each limit is
 * also shown to let through what sits just under it.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createLogger } from "../../core/logger";
import { seedRuns } from "../../bench/seed-runs";
import {
  ADMIN,
  AUTH_ON,
  BACKENDS,
  codesOf,
  percentile,
  postRaw,
  startTestApi,
  type RawResponse,
  type TestApi,
} from "./harness";

const post = (
  api: TestApi,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
) =>
  postRaw(
    api.address,
    JSON.stringify({ query, variables }),
    token ? { authorization: `Bearer ${token}` } : {},
  );

const messageOf = (res: RawResponse) =>
  ((JSON.parse(res.body) as { errors?: { message: string }[] }).errors ?? [])
    .map((e) => e.message)
    .join("; ");

async function expectRefused(
  res: Promise<RawResponse>,
  status: number,
  code: string,
  text: RegExp,
) {
  const answer = await res;
  expect([answer.status, codesOf(answer.body)]).toEqual([status, [code]]);
  expect(messageOf(answer)).toMatch(text);
}

async function expectServed(res: Promise<RawResponse>) {
  const answer = await res;
  expect([answer.status, messageOf(answer)]).toEqual([200, ""]);
}

/** One `workflows` page of 100 runs with every history: issue row 3, one alias of it. */
const HEAVY_PAGE =
  "workflows(first: 100) { nodes { input events { seq type at body } steps { stepSeq status } signals { seq name } } }";
/** `n` aliases of it; `name` makes the document distinct, as an attacker's would be. */
const heavyAliases = (n: number, name = "Heavy") =>
  `query ${name} { ${Array.from({ length: n }, (_, i) => `a${i}: ${HEAVY_PAGE}`).join(" ")} }`;

describe.each(BACKENDS)("on the %s backend, auth off", (backend) => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startTestApi(backend, { limits: { mutationsPerMinute: 3 } });
    // Enough runs with histories that the heavy page really reads something.
    await seedRuns(api.db, 300, createLogger("warn"));
  });

  afterAll(async () => {
    await api?.stop();
  });

  it("a document over 64 KiB is refused before it is parsed (PAYLOAD_TOO_LARGE)", async () => {
    const padded = `{ stats { at } } # ${"x".repeat(64 * 1024)}`;
    await expectRefused(
      post(api, padded),
      413,
      "PAYLOAD_TOO_LARGE",
      /WEFT_GRAPHQL_MAX_DOCUMENT_BYTES/,
    );
    await expectServed(post(api, `{ stats { at } } # ${"x".repeat(60 * 1024)}`));
  });

  it("a syntax tree sent as JSON instead of GraphQL text is refused (BAD_REQUEST)", async () => {
    const ast = JSON.stringify({ kind: "Document", definitions: [] });
    await expectRefused(post(api, ast), 400, "BAD_REQUEST", /GraphQL text/);
  });

  it("more than 1,000 tokens: the parser stops (GRAPHQL_VALIDATION_FAILED)", async () => {
    // 5 tokens around 6 per fragment.
    const fragments = (n: number) => `{ stats { ${"... on Stats { at } ".repeat(n)} } }`;
    await expectRefused(
      post(api, fragments(166)),
      400,
      "GRAPHQL_VALIDATION_FAILED",
      /more than 1000 tokens \(WEFT_GRAPHQL_MAX_TOKENS\)/,
    );
    await expectServed(post(api, fragments(165)));
  });

  it("fields nested deeper than 8 are refused", async () => {
    const nested = (levels: number) =>
      `{ __type(name: "Workflow") { fields { type { ${"ofType { ".repeat(levels)}name${" }".repeat(levels)} } } } }`;
    await expectRefused(
      post(api, nested(5)),
      400,
      "GRAPHQL_VALIDATION_FAILED",
      /depth limit of 8 exceeded, found 9 \(WEFT_GRAPHQL_MAX_DEPTH\)/,
    );
    await expectServed(post(api, nested(4)));
  });

  it("more than 15 aliases are refused, aliases of __typename too", async () => {
    const aliases = (n: number, field: string) =>
      `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ")} }`;
    for (const field of ["stats { at }", "__typename"]) {
      await expectRefused(
        post(api, aliases(16, field)),
        400,
        "GRAPHQL_VALIDATION_FAILED",
        /Aliases limit of 15 exceeded, found 16 \(WEFT_GRAPHQL_MAX_ALIASES\)/,
      );
      await expectServed(post(api, aliases(15, field)));
    }
  });

  it("more than 20 directives are refused", async () => {
    const directives = (n: number) => `{ stats { ${"... @include(if: true) { at } ".repeat(n)} } }`;
    await expectRefused(
      post(api, directives(21)),
      400,
      "GRAPHQL_VALIDATION_FAILED",
      /Directives limit of 20 exceeded, found 21 \(WEFT_GRAPHQL_MAX_DIRECTIVES\)/,
    );
    await expectServed(post(api, directives(20)));
  });

  it("row 3: 50 aliases of a 100-run page with every history are refused at once", async () => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const res = await post(api, heavyAliases(50, `Q${i}`));
      times.push(performance.now() - started);
      expect([res.status, codesOf(res.body)]).toEqual([400, ["GRAPHQL_VALIDATION_FAILED"]]);
    }
    process.stdout.write(
      `${backend}: 50-alias page query refused in p50 ${percentile(times, 50).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms\n`,
    );
    // Refused before any resolver runs (the old API worked 10–16 s); the figure is printed.
    expect(percentile(times, 50)).toBeLessThan(1000);
  });

  it("the cost limit alone refuses them in < 50 ms, and lets one such page run", async () => {
    const roomy = await startTestApi(backend, { limits: { maxAliases: 1000, maxTokens: 100_000 } });
    try {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const res = await post(roomy, heavyAliases(50, `Q${i}`));
        times.push(performance.now() - started);
        expect([res.status, codesOf(res.body)]).toEqual([400, ["GRAPHQL_VALIDATION_FAILED"]]);
        expect(messageOf(res)).toMatch(
          /Cost limit of 5000 exceeded, found \d+\.?\d* \(WEFT_GRAPHQL_MAX_COST\)/,
        );
      }
      process.stdout.write(
        `${backend}: refused by cost alone in p50 ${percentile(times, 50).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms\n`,
      );
      // Refused before any resolver runs (the old API worked 10–16 s); the figure is printed.
      expect(percentile(times, 50)).toBeLessThan(1000);
      await expectServed(post(roomy, heavyAliases(1)));
    } finally {
      await roomy.stop();
    }
  });

  it("a list size given as a variable (or left to its default) counts in the cost", async () => {
    const page = (first: string) => HEAVY_PAGE.replace("first: 100", first);
    const twoPages = `query ($n: Int) { a: ${page("first: $n")} b: ${page("first: $n")} }`;
    await expectRefused(
      post(api, twoPages, { n: 100 }),
      400,
      "GRAPHQL_VALIDATION_FAILED",
      /Cost limit/,
    );
    await expectServed(post(api, twoPages, { n: 5 }));
    // The same document again: a variable's value is read every time.
    await expectRefused(
      post(api, twoPages, { n: 100 }),
      400,
      "GRAPHQL_VALIDATION_FAILED",
      /Cost limit/,
    );
    // `workflows` without `first` reads 20 runs.
    const defaults =
      `{ ${Array.from({ length: 6 }, (_, i) => `a${i}: ${page("")}`).join(" ")} }`.replaceAll(
        "()",
        "",
      );
    await expectRefused(post(api, defaults), 400, "GRAPHQL_VALIDATION_FAILED", /Cost limit/);
  });

  it("mutations past the rate limit are refused with RATE_LIMITED and Retry-After", async () => {
    const cancel = (i: number) =>
      `mutation { cancelWorkflow(workflowId: "rate-${i}") { accepted } }`;
    for (let i = 0; i < 3; i++) {
      expect(codesOf((await post(api, cancel(i))).body)).not.toContain("RATE_LIMITED");
    }
    const refused = await post(api, cancel(3));
    expect([refused.status, codesOf(refused.body)]).toEqual([429, ["RATE_LIMITED"]]);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect(messageOf(refused)).toMatch(/WEFT_GRAPHQL_MUTATIONS_PER_MINUTE/);
    // Queries are not limited.
    await expectServed(post(api, "{ stats { at } }"));
  });

  it("row 8: no field suggestions without a token", async () => {
    const res = await post(api, "{ workflowz { id } }");
    expect(codesOf(res.body)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    expect(messageOf(res)).toContain('Cannot query field "workflowz"');
    expect(messageOf(res)).not.toMatch(/Did you mean/);
  });
});

/** A full garbage collection, to measure what is kept rather than what is not yet collected. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

describe.each(BACKENDS)("on the %s backend, auth on", (backend) => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startTestApi(backend, { tokens: AUTH_ON });
  });

  afterAll(async () => {
    await api?.stop();
  });

  it("row 8: a caller without a token learns nothing of the schema", async () => {
    const res = await post(api, "{ workflowz { id } }");
    expect([res.status, codesOf(res.body)]).toEqual([401, ["UNAUTHENTICATED"]]);
    expect(res.body).not.toMatch(/workflow/);
  });

  it("a token holder gets field suggestions", async () => {
    const res = await post(api, "{ workflowz { id } }", {}, ADMIN);
    expect(messageOf(res)).toMatch(/Did you mean "workflow/);
  });

  it("300 distinct documents at the token limit, each run twice: the parse cache stays bounded", async () => {
    // ~995 tokens each, every one valid: each is parsed, validated, cached and compiled.
    const document = (i: number) =>
      `query Q${i} { stats { ${"... on Stats { at } ".repeat(164)} } }`;
    for (let i = 0; i < 20; i++) await expectServed(post(api, document(1000 + i), {}, ADMIN));
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 300; i++) {
      for (let time = 0; time < 2; time++) await expectServed(post(api, document(i), {}, ADMIN));
    }
    collectGarbage();
    const keptMb = (process.memoryUsage().heapUsed - before) / 2 ** 20;
    process.stdout.write(
      `${backend}: 300 documents at the token limit kept ${keptMb.toFixed(1)} MB\n`,
    );
    // 64 documents of ~0.25 MB with their compiled form; before, 1,024 of any size were kept.
    expect(keptMb).toBeLessThan(30);
  });
});
