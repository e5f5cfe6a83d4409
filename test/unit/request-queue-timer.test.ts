/**
 * Weft's kafkajs clients schedule a connection's check of waiting requests only while requests
 * wait (adapters/kafka/request-queue-timer.ts): kafkajs 2.2.4 rescheduled it every millisecond
 * on every connection, for ever. These drive kafkajs's own request queue through a response, a
 * client-side throttle and the in-flight limit, and check what is sent and what stays
 * scheduled.
 *
 * Run in a child Node process: the class Weft replaces is the one Node's loader gives kafkajs,
 * and Jest's module registry is another.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const ROOT = join(__dirname, "..", "..");

const SCRIPT = `
const { WeftKafka } = require("./adapters/kafka/client.ts");
const { kafkajsRequestQueue } = require("./adapters/kafka/request-queue-timer.ts");
const RequestQueue = kafkajsRequestQueue();
const kafkajsOwn = RequestQueue.prototype.scheduleCheckPendingRequests;
// Creating a Weft client is what installs the scheduling.
new WeftKafka({ brokers: ["127.0.0.1:9"], logLevel: 0 });
const logger = { debug() {}, info() {}, warn() {}, error() {} };
let correlationId = 0;
const queue = new RequestQueue({
  maxInFlightRequests: 1, requestTimeout: 30000, enforceRequestTimeout: false,
  clientId: "weft-test", broker: "127.0.0.1:9", logger,
});
/** Pushes a request; resolves 'sent' when the queue hands it to the socket. */
function push() {
  const id = ++correlationId;
  let sent;
  const wasSent = new Promise((resolve) => (sent = resolve));
  queue.push({
    entry: { correlationId: id, apiKey: 0, apiName: "Produce", apiVersion: 7, resolve() {}, reject() {} },
    expectResponse: true,
    sendRequest: () => sent(id),
  });
  return { id, wasSent };
}
const scheduled = () => queue.throttleCheckTimeoutId !== null;
(async () => {
  const out = { replaced: RequestQueue.prototype.scheduleCheckPendingRequests !== kafkajsOwn };
  const a = push();
  await a.wasSent;
  queue.fulfillRequest({ correlationId: a.id, payload: Buffer.alloc(0), size: 0 });
  out.afterResponse = scheduled();

  const b = push();
  const c = push();
  out.heldByLimit = { pending: queue.pending.length, scheduled: scheduled() };
  await b.wasSent;
  queue.fulfillRequest({ correlationId: b.id, payload: Buffer.alloc(0), size: 0 });
  out.sentWhenFreed = (await c.wasSent) === c.id;
  queue.fulfillRequest({ correlationId: c.id, payload: Buffer.alloc(0), size: 0 });

  queue.maybeThrottle(30);
  const d = push();
  out.heldByThrottle = { pending: queue.pending.length, scheduled: scheduled() };
  out.sentAfterThrottle = (await d.wasSent) === d.id;
  out.afterThrottle = { pending: queue.pending.length, scheduled: scheduled() };
  queue.fulfillRequest({ correlationId: d.id, payload: Buffer.alloc(0), size: 0 });
  queue.destroy();
  console.log(JSON.stringify(out));
})();
`;

it("keeps no timer on a connection with nothing waiting, and still sends every held request", async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "-e", SCRIPT],
    { cwd: ROOT, timeout: 60_000 },
  );
  const out = JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, unknown>;
  expect(out).toEqual({
    replaced: true,
    // kafkajs 2.2.4 left a 1 ms timer here, which rescheduled itself for ever.
    afterResponse: false,
    heldByLimit: { pending: 1, scheduled: true },
    sentWhenFreed: true,
    heldByThrottle: { pending: 1, scheduled: true },
    sentAfterThrottle: true,
    afterThrottle: { pending: 0, scheduled: false },
  });
});
