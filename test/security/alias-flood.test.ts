/**
 * Issue row 1: 60,000 aliases of `__typename` (1.1 MB), a different document each time. Before,
 * mercurius parsed, validated and cached each one ahead of Weft's auth (about 70 MB kept per
 * request) until the process died at request 79. Now a request without a token is refused
 * before its body is read, and with auth off the document is refused by its size before it is
 * parsed. Weft runs as users run it, in a child process (`weft dev`, or `weft start` with every
 * role on Kafka, PostgreSQL and Redis); the test measures its memory from /proc and probes
 * /healthz all along.
 */
import {
  ADMIN,
  BACKENDS,
  codesOf,
  percentile,
  postRaw,
  spawnWeft,
  timedGet,
  type Backend,
} from "./harness";

const DOCUMENTS = 100;
const MB = 1024 * 1024;

/** `{ "query": "query Q0000000 { a0: __typename … }" }`; the seven digits make it distinct. */
function aliasDocument(): { body: Buffer; stamp: (n: number) => void } {
  const selections = Array.from({ length: 60_000 }, (_, i) => `a${i}: __typename`).join(" ");
  const body = Buffer.from(JSON.stringify({ query: `query Q0000000 { ${selections} }` }));
  const at = body.indexOf("Q0000000") + 1;
  return { body, stamp: (n) => body.write(String(n).padStart(7, "0"), at, "latin1") };
}

interface FloodResult {
  statuses: Set<number>;
  codes: Set<string | undefined>;
  rssGrowthMb: number;
  health: number[];
}

/** Sends the documents one after another while /healthz is probed every 10 ms. */
async function flood(
  weft: Awaited<ReturnType<typeof spawnWeft>>,
  headers: Record<string, string>,
): Promise<FloodResult> {
  const { body, stamp } = aliasDocument();
  expect(body.length).toBeGreaterThan(1_000_000);
  // Warm up first (a process just started still grows): these documents are not counted.
  for (let i = 0; i < 10; i++) {
    stamp(DOCUMENTS + i);
    await postRaw(weft.address, body, headers);
    await timedGet(weft.address, "/healthz");
  }
  const rssBefore = weft.rss();
  const health: number[] = [];
  const statuses = new Set<number>();
  const codes = new Set<string | undefined>();
  for (let i = 0; i < DOCUMENTS; i++) {
    stamp(i);
    // A load balancer's probe alongside each document: answered while the document is refused.
    const [res, healthMs] = await Promise.all([
      postRaw(weft.address, body, headers),
      timedGet(weft.address, "/healthz"),
    ]);
    health.push(healthMs);
    statuses.add(res.status);
    for (const code of codesOf(res.body)) codes.add(code);
  }
  return { statuses, codes, rssGrowthMb: (weft.rss() - rssBefore) / MB, health };
}

function report(what: string, result: FloodResult) {
  const f = (n: number) => n.toFixed(1);
  process.stdout.write(
    `${what}: ${DOCUMENTS} documents of 1.1 MB refused with ${[...result.statuses].join(",")} ` +
      `${[...result.codes].join(",")}; RSS grew ${f(result.rssGrowthMb)} MB; /healthz (${result.health.length} probes) ` +
      `p50 ${f(percentile(result.health, 50))} ms, p90 ${f(percentile(result.health, 90))} ms, max ${f(Math.max(...result.health))} ms\n`,
  );
}

/**
 * Bounds loose enough for a loaded two-core machine, far below what the old behaviour gave
 * (hundreds of ms per document spent parsing, ~70 MB kept per document).
 */
function expectCheap(result: FloodResult) {
  expect(result.rssGrowthMb).toBeLessThan(50);
  // Never blocked (the old API stalled for seconds, then died): the figures are printed above.
  expect(percentile(result.health, 90)).toBeLessThan(1000);
  expect(Math.max(...result.health)).toBeLessThan(5000);
}

const cases = (
  [
    ["embedded", "on"],
    ["embedded", "off"],
    ["server", "on"],
  ] as [Backend, "on" | "off"][]
).filter(([backend]) => BACKENDS.includes(backend));

describe.each(cases)("%s backend, auth %s", (backend, auth) => {
  let weft: Awaited<ReturnType<typeof spawnWeft>>;

  beforeAll(async () => {
    weft = await spawnWeft(backend, auth === "on" ? { WEFT_API_TOKENS: ADMIN } : {});
  });

  afterAll(async () => {
    await weft?.stop();
  });

  it(`refuses ${DOCUMENTS} distinct 1.1 MB alias documents cheaply`, async () => {
    const result = await flood(weft, {});
    report(`${backend}, auth ${auth}`, result);
    if (auth === "on") {
      expect([...result.statuses]).toEqual([401]);
      expect([...result.codes]).toEqual(["UNAUTHENTICATED"]);
    } else {
      expect([...result.statuses]).toEqual([413]);
      expect([...result.codes]).toEqual(["PAYLOAD_TOO_LARGE"]);
    }
    expectCheap(result);
    // Still serving: a real query answers.
    const res = await postRaw(
      weft.address,
      JSON.stringify({ query: "{ stats { at } }" }),
      auth === "on" ? { authorization: `Bearer ${ADMIN}` } : {},
    );
    expect(res.status).toBe(200);
    expect(codesOf(res.body)).toEqual([]);
  });

  if (auth === "on") {
    it("a token holder's 1.1 MB document is refused by its size before it is parsed", async () => {
      const result = await flood(weft, { authorization: `Bearer ${ADMIN}` });
      report(`${backend}, auth on, with a token`, result);
      expect([...result.statuses]).toEqual([413]);
      expect([...result.codes]).toEqual(["PAYLOAD_TOO_LARGE"]);
      expectCheap(result);
    });
  }
});
