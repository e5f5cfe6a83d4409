/**
 * A header named `__proto__` is a header like any other. Records of a user's source topic
 * (Kafka triggers) carry whatever headers their producers set: decoded into a plain object by
 * assignment, that name replaced the headers object's prototype (the header itself was lost,
 * and the next repeated key of the record read the prototype's properties).
 */
import { decodeBatch, encodeRecordBatch } from "../../adapters/kafka/record-batches";
import { addHeader, headersToStrings } from "../../transport/headers";
import type { PortHeaders } from "../../transport/port";
import { waitFor } from "../support/env";
import { collect, openLog, tempDir } from "./helpers";

const hostile = (): PortHeaders => {
  const headers: PortHeaders = { before: "b" };
  Object.defineProperty(headers, "__proto__", {
    value: ["x", "y"],
    enumerable: true,
    writable: true,
    configurable: true,
  });
  headers.after = "a";
  return headers;
};

function expectHostileHeaders(headers: PortHeaders): void {
  expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
  expect(Object.keys(headers).sort()).toEqual(["__proto__", "after", "before"]);
  const proto = Object.getOwnPropertyDescriptor(headers, "__proto__")?.value as Buffer[];
  expect(proto.map((b) => b.toString())).toEqual(["x", "y"]);
  expect(headersToStrings(headers)).toEqual(
    Object.fromEntries([
      ["before", "b"],
      ["__proto__", "x"],
      ["after", "a"],
    ]),
  );
  expect(Object.hasOwn(headersToStrings(headers), "__proto__")).toBe(true);
}

it("keeps a __proto__ header as an own property when repeated keys are gathered", () => {
  const headers: PortHeaders = {};
  addHeader(headers, "__proto__", Buffer.from("x"));
  addHeader(headers, "__proto__", Buffer.from("y"));
  addHeader(headers, "before", Buffer.from("b"));
  addHeader(headers, "after", Buffer.from("a"));
  expectHostileHeaders(headers);
  // A name Object.prototype has is not taken for an earlier value of the header.
  const inherited: PortHeaders = {};
  addHeader(inherited, "valueOf", Buffer.from("v"));
  expect(Object.getOwnPropertyDescriptor(inherited, "valueOf")?.value).toEqual(Buffer.from("v"));
});

it("decodes a Kafka record batch with a __proto__ header into an own header", () => {
  const batch = encodeRecordBatch({ producerId: "1", producerEpoch: 0, transactional: false }, 0, [
    { key: "k", value: "v", headers: hostile() },
  ]);
  const [record] = decodeBatch(batch, 0)!.batch.records;
  expectHostileHeaders(record!.headers);
});

it("carries a __proto__ header through the embedded log", async () => {
  const { dir, cleanup } = tempDir();
  const kafka = await openLog(dir);
  try {
    await kafka.admin().createTopics({ topics: [{ topic: "source", numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: "source",
      messages: [{ key: "k", value: "v", headers: hostile() }],
    });
    const read = await collect(kafka, "source", "reader");
    await waitFor("the record", () => read.messages.length === 1);
    expectHostileHeaders(read.messages[0]!.headers ?? {});
    await read.consumer.disconnect();
    await producer.disconnect();
  } finally {
    await kafka.close();
    cleanup();
  }
});
