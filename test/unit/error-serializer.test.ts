/**
 * Weft's log lines keep an error's own `type`: a Kafka protocol error's name
 * (NOT_LEADER_OR_FOLLOWER), which pino's serializer overwrote with the class name, is written
 * as `errorType`, also when it is the cause of the error logged (retries spent) and in a child
 * logger.
 */
import { Writable } from "node:stream";
import { KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from "kafkajs";
import { createLogger } from "../../core/logger";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger("info", {}, destination), lines };
}

/** As kafkajs builds one from a response's error code (its types declare only an Error). */
const notLeader = () =>
  new KafkaJSProtocolError({
    type: "NOT_LEADER_OR_FOLLOWER",
    code: 6,
    retriable: true,
    message: "This server is not the leader for that topic-partition",
  } as unknown as Error);

it("writes a Kafka protocol error's name as errorType, beside its class, code and message", () => {
  const { logger, lines } = capture();
  logger.warn({ err: notLeader() }, "produce failed");
  const err = lines[0]!.err as Record<string, unknown>;
  expect(err).toMatchObject({
    type: "KafkaJSProtocolError",
    errorType: "NOT_LEADER_OR_FOLLOWER",
    code: 6,
    message: "This server is not the leader for that topic-partition",
  });
});

it("takes errorType from the cause when the error logged has none (retries spent)", () => {
  const { logger, lines } = capture();
  const spent = new KafkaJSNumberOfRetriesExceeded(notLeader(), { retryCount: 5, retryTime: 3000 });
  logger.child({ component: "producer" }).error({ err: spent }, "gave up");
  const err = lines[0]!.err as Record<string, unknown>;
  expect(err.type).toBe("KafkaJSNumberOfRetriesExceeded");
  expect(err.errorType).toBe("NOT_LEADER_OR_FOLLOWER");
  expect(err.retryCount).toBe(5);
});

it("adds nothing to an error without a type of its own", () => {
  const { logger, lines } = capture();
  logger.error({ err: new TypeError("x is not a function") }, "bug");
  const err = lines[0]!.err as Record<string, unknown>;
  expect(err.type).toBe("TypeError");
  expect(err).not.toHaveProperty("errorType");
  expect(err.stack).toEqual(expect.stringContaining("TypeError: x is not a function"));
});
