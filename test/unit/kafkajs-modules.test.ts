/**
 * kafkajs loads a request's version module inside every call that builds the request
 * (`require("./v11/request")`); Node answers the repeat without resolving the path only when
 * the module's first load came from that same folder by that same name. Weft's adapters load
 * some of those modules themselves (kafkajs-modules.ts): this checks they keep kafkajs's
 * fetches and produces on that fast path.
 *
 * Run in a child Node process: Jest's module registry is not Node's loader.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const ROOT = join(__dirname, "..", "..");

/** Builds kafkajs requests twice after a first build; counts the module paths Node resolved. */
const SCRIPT = `
const Module = require("node:module");
require("./adapters/kafka/compacted-reader.ts");
require("./adapters/kafka/produce-request.ts");
const { kafkajsModule } = require("./adapters/kafka/kafkajs-modules.ts");
const protocol = (request, version) =>
  kafkajsModule("./src/protocol/requests/" + request + "/index.js").protocol({ version });
const fetch = protocol("fetch", 11);
const produce = protocol("produce", 7);
const heartbeat = protocol("heartbeat", 3);
const count = (build) => {
  build();
  let resolved = 0;
  const real = Module._resolveFilename;
  Module._resolveFilename = function (...args) {
    resolved++;
    return real.apply(this, args);
  };
  try {
    build();
    build();
  } finally {
    Module._resolveFilename = real;
  }
  return resolved;
};
const weftRequests = count(() => {
  fetch({ maxWaitTime: 100, minBytes: 1, topics: [], isolationLevel: 1 });
  produce({ acks: -1, timeout: 1000, topicData: [] });
});
// The control: a version module first loaded from kafkajs's root, under another name.
kafkajsModule("./src/protocol/requests/heartbeat/v3/request");
const loadedElsewhere = count(() =>
  heartbeat({ groupId: "g", groupGenerationId: 1, memberId: "m", groupInstanceId: null }),
);
console.log(JSON.stringify({ weftRequests, loadedElsewhere }));
`;

it("leaves kafkajs's per-request loads of the versions Weft also loads on Node's fast path", async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "-e", SCRIPT],
    { cwd: ROOT, timeout: 60_000 },
  );
  const counts = JSON.parse(stdout.trim().split("\n").pop()!) as {
    weftRequests: number;
    loadedElsewhere: number;
  };
  expect(counts.weftRequests).toBe(0);
  // Two builds, each resolving its request's module: the check sees a slow path.
  expect(counts.loadedElsewhere).toBeGreaterThanOrEqual(2);
});
