/** defineTrigger's checks and the pure record → command mapping, with no broker. */
import avro from "avsc";
import { WeftError } from "../../core/errors";
import { defineTrigger } from "../../triggers/definition";
import { mapDelivery } from "../../triggers/map-delivery";
import { sameSecret, signWebhookBody, checkSignature } from "../../triggers/webhook-auth";

const delivery = (value: string | Buffer | null, key: string | null = null) => ({
  key: key === null ? null : Buffer.from(key),
  value: typeof value === "string" ? Buffer.from(value) : value,
  delivery: "shop.orders/2/41",
  headers: {},
});

describe("defineTrigger", () => {
  it.each([
    ["two sources", { kafka: { topic: "t" }, webhook: { token: "x".repeat(16) } }],
    ["no workflow for a start", { kafka: { topic: "t" } }],
    ["a short token", { webhook: { token: "short" }, workflow: "w" }],
    [
      "a key on a webhook",
      { webhook: { token: "x".repeat(16) }, workflow: "w", workflowId: "key" },
    ],
    ["an Avro format without a schema", { kafka: { topic: "t", format: "avro" }, workflow: "w" }],
  ])("refuses %s with INVALID_CONFIG", (_what, options) => {
    const define = () =>
      defineTrigger("t1", { action: "start", workflowId: "delivery", ...options } as never);
    expect(define).toThrow(WeftError);
    expect(define).toThrow(/trigger "t1"/);
  });
});

describe("mapDelivery", () => {
  const orders = defineTrigger("orders", {
    kafka: { topic: "shop.orders" },
    action: "start",
    workflow: "orderFlow",
    workflowId: { field: "order.id" },
    workflowIdPrefix: "order-",
  });

  it("maps the same record to the same workflow ID and request ID every time", () => {
    const first = mapDelivery(orders, delivery(JSON.stringify({ order: { id: "a1" } })));
    const again = mapDelivery(orders, delivery(JSON.stringify({ order: { id: "a1" } })));
    const ids = (o: typeof first) =>
      o.kind === "command" && [o.command.workflowId, JSON.stringify(o.command.body)];
    expect(ids(first)).toEqual(ids(again));
    expect(first).toMatchObject({
      kind: "command",
      command: {
        workflowId: "order-a1",
        body: { type: "StartWorkflow", requestId: "trigger/orders/shop.orders/2/41" },
      },
    });
  });

  it.each([
    ["no JSON", "{ no", /not JSON/],
    ["no field", JSON.stringify({ order: {} }), /field order.id/],
    ["an ID with bad characters", JSON.stringify({ order: { id: "a b" } }), /INVALID_WORKFLOW_ID/],
    ["a tombstone", null, /tombstone/],
  ])("refuses %s", (_what, value, reason) => {
    const outcome = mapDelivery(orders, delivery(value));
    expect(outcome.kind).toBe("unmappable");
    expect(outcome.kind === "unmappable" && outcome.reason).toMatch(reason);
  });

  it("decodes Avro with the schema registry's header, and keys a signal by the record key", () => {
    const schema = { type: "record", name: "Paid", fields: [{ name: "amount", type: "int" }] };
    const paid = defineTrigger("paid", {
      kafka: { topic: "payments", format: "avro", schema, framing: "confluent" },
      action: "signal",
      signal: "paid",
      workflowId: "key",
    });
    const body = avro.Type.forSchema(schema as avro.Schema).toBuffer({ amount: 12 });
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), body]);
    expect(mapDelivery(paid, delivery(framed, "order-9"))).toMatchObject({
      kind: "command",
      command: {
        workflowId: "order-9",
        body: { type: "SignalWorkflow", payload: '{"amount":12}' },
      },
    });
    expect(mapDelivery(paid, delivery(body, "order-9")).kind).toBe("unmappable");
  });
});

describe("webhook signatures", () => {
  const source = {
    hmac: {
      secret: "s".repeat(16),
      header: "x-sig",
      algorithm: "sha256" as const,
      prefix: "sha256=",
    },
  };

  it("accepts the body it was computed over, and nothing else", () => {
    const signature = signWebhookBody(source.hmac, "{}");
    expect(checkSignature(source, { "x-sig": signature }, Buffer.from("{}")).ok).toBe(true);
    expect(checkSignature(source, { "x-sig": signature }, Buffer.from("{ }")).ok).toBe(false);
    expect(checkSignature(source, { "x-sig": signature.slice(0, -1) }, Buffer.from("{}")).ok).toBe(
      false,
    );
    expect(sameSecret("a", "a")).toBe(true);
    expect(sameSecret("a", "ab")).toBe(false);
  });
});
