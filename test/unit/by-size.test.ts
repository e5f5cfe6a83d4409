import { bySize } from "../../adapters/kafka/decision-log";
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
