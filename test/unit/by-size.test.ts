import { bySize, transactionSending } from "../../adapters/kafka/decision-log";
import type { PortMessage } from "../../transport/port";

const message = (bytes: number, i: number): PortMessage => ({
  key: `k${i}`,
  value: Buffer.alloc(bytes, 1),
});

describe("bySize: one decision's records of a partition, in requests under the batch limit", () => {
  it("keeps order, puts each request under the limit, and a record over it alone", () => {
    const sizes = [100, 300_000, 300_000, 10, 900_000, 5, 200_000, 200_000, 200_000];
    const messages = sizes.map(message);
    const requests = bySize(messages, 512 * 1024);
    expect(requests.flat()).toEqual(messages);
    for (const request of requests) {
      const bytes = request.reduce((n, m) => n + (m.value as Buffer).length, 0);
      if (request.length > 1) expect(bytes).toBeLessThanOrEqual(512 * 1024);
    }
    // The 900 kB record is a request of its own.
    expect(requests.some((r) => r.length === 1 && (r[0]!.value as Buffer).length === 900_000)).toBe(
      true,
    );
    expect(requests.length).toBeGreaterThanOrEqual(5);
  });

  it("sends small records in one request", () => {
    const messages = Array.from({ length: 1000 }, (_, i) => message(200, i));
    expect(bySize(messages, 512 * 1024)).toEqual([messages]);
  });
});

describe("a decision's requests on Kafka (transactionSending.requests)", () => {
  it("sends one partition per request, each partition's records in order and under the limit", () => {
    const records = [
      {
        topic: "history",
        messages: [0, 1, 0, 2, 1, 0].map((partition, i) => ({
          key: `h${i}`,
          value: Buffer.alloc(200_000, i),
          partition,
        })),
      },
      { topic: "tasks", messages: [{ key: "t", value: "task", partition: 3 }] },
    ];
    const requests = [...transactionSending.requests!(records)];
    for (const request of requests) {
      expect(request).toHaveLength(1);
      const partitions = new Set(request[0]!.messages.map((m) => m.partition));
      expect(partitions.size).toBe(1);
      const bytes = request[0]!.messages.reduce((n, m) => n + (m.value as Buffer).length, 0);
      expect(bytes).toBeLessThanOrEqual(512 * 1024);
    }
    // Every record once, and a partition's records in the order given.
    const sent = requests.flatMap((r) =>
      r[0]!.messages.map((m) => `${r[0]!.topic}/${String(m.key)}`),
    );
    expect([...sent].sort()).toEqual(
      records.flatMap((r) => r.messages.map((m) => `${r.topic}/${m.key}`)).sort(),
    );
    const partitionZero = requests
      .filter((r) => r[0]!.topic === "history" && r[0]!.messages[0]!.partition === 0)
      .flatMap((r) => r[0]!.messages.map((m) => m.key));
    expect(partitionZero).toEqual(["h0", "h2", "h5"]);
  });
});
