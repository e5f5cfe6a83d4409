/**
 * Webhook triggers end to end, the same on Kafka and embedded: a delivery retried with the same
 * delivery ID is one run (one signal), a bad signature or token is refused before any command,
 * and every refusal carries its stable code.
 */
import type { FastifyInstance } from "fastify";
import type { WeftClient } from "../../sdk/client";
import { signWebhookBody } from "../../triggers/webhook-auth";
import { HOOK_SECRET, HOOK_TOKEN } from "../fixtures/triggers";
import { tally } from "../fixtures/workflows";
import { waitFor } from "../support/env";
import { count } from "../support/history";

export interface WebhookContext {
  server: FastifyInstance;
  client: WeftClient;
}

const SIGNING = { secret: HOOK_SECRET, prefix: "sha256=" };

function post(
  server: FastifyInstance,
  hook: string,
  body: string,
  headers: Record<string, string>,
) {
  return server.inject({
    method: "POST",
    url: `/hooks/${hook}`,
    headers: { "content-type": "application/json", ...headers },
    payload: body,
  });
}

export function webhookScenarios(context: () => WebhookContext): void {
  it("starts one run for a delivery retried with the same delivery ID", async () => {
    const { server, client } = context();
    const body = JSON.stringify({ n: 10 });
    const headers = { authorization: `Bearer ${HOOK_TOKEN}`, "x-weft-delivery": "dlv-1" };
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await post(server, "start-hook", body, headers));
    expect(answers.map((a) => a.statusCode)).toEqual([202, 202, 202]);
    const ids = answers.map((a) => a.json<{ workflowId: string }>().workflowId);
    expect(new Set(ids)).toEqual(new Set(["start-hook/dlv-1"]));
    expect(await client.result("start-hook/dlv-1", { timeoutMs: 30_000 })).toEqual({ n: 13 });
    expect(count(await client.getHistory("start-hook/dlv-1"), "WorkflowStarted")).toBe(1);
  });

  it("records a signal delivered twice under one delivery ID once", async () => {
    const { server, client } = context();
    const { workflowId } = await client.start(tally, { workflowId: "tally-hooked" });
    const send = (delivery: string, add: unknown) => {
      const body = JSON.stringify({ run: workflowId, add });
      return post(server, "tally-hook", body, {
        "x-hub-signature-256": signWebhookBody(SIGNING, body),
        "x-weft-delivery": delivery,
      });
    };
    expect((await send("sig-1", { n: 1 })).statusCode).toBe(202);
    expect((await send("sig-1", { n: 1 })).statusCode).toBe(202);
    expect((await send("sig-2", { n: 2 })).statusCode).toBe(202);
    expect((await send("sig-3", { done: true })).statusCode).toBe(202);
    expect(await client.result(workflowId, { timeoutMs: 30_000 })).toEqual({ seen: [1, 2] });
  });

  it("refuses a bad signature, a bad token, an unknown hook and an unmappable body", async () => {
    const { server, client } = context();
    const { workflowId } = await client.start(tally, { workflowId: "tally-guarded" });
    const body = JSON.stringify({ run: workflowId, add: { n: 7 } });
    const forged = await post(server, "tally-hook", body, {
      "x-hub-signature-256": signWebhookBody({ ...SIGNING, secret: "not-the-secret-at-all" }, body),
      "x-weft-delivery": "forged-1",
    });
    expect(forged.statusCode).toBe(401);
    expect(codeOf(forged.json())).toBe("BAD_SIGNATURE");
    // Signed, then altered on the way: the signature no longer matches the body.
    const altered = await post(server, "tally-hook", body.replace("7", "8"), {
      "x-hub-signature-256": signWebhookBody(SIGNING, body),
      "x-weft-delivery": "forged-2",
    });
    expect(altered.statusCode).toBe(401);
    const unsigned = await post(server, "tally-hook", body, { "x-weft-delivery": "forged-3" });
    expect(codeOf(unsigned.json())).toBe("BAD_SIGNATURE");
    const badToken = await post(server, "start-hook", "{}", {
      authorization: "Bearer wrong-token-0123456789",
      "x-weft-delivery": "t-1",
    });
    expect([badToken.statusCode, codeOf(badToken.json())]).toEqual([401, "BAD_SIGNATURE"]);
    const unknown = await post(server, "no-such-hook", "{}", { "x-weft-delivery": "u-1" });
    expect([unknown.statusCode, codeOf(unknown.json())]).toEqual([404, "UNKNOWN_TRIGGER"]);
    const noDelivery = await post(server, "start-hook", "{}", {
      authorization: `Bearer ${HOOK_TOKEN}`,
    });
    expect([noDelivery.statusCode, codeOf(noDelivery.json())]).toEqual([400, "INVALID_INPUT"]);
    const notJson = "{ nope";
    const unmappable = await post(server, "tally-hook", notJson, {
      "x-hub-signature-256": signWebhookBody(SIGNING, notJson),
      "x-weft-delivery": "bad-json",
    });
    expect([unmappable.statusCode, codeOf(unmappable.json())]).toEqual([422, "UNMAPPABLE_INPUT"]);
    const big = JSON.stringify({ run: workflowId, add: "x".repeat(300 * 1024) });
    const tooLarge = await post(server, "tally-hook", big, {
      "x-hub-signature-256": signWebhookBody(SIGNING, big),
      "x-weft-delivery": "big-1",
    });
    expect([tooLarge.statusCode, codeOf(tooLarge.json())]).toEqual([413, "PAYLOAD_TOO_LARGE"]);

    // None of them reached the run: the next genuine signal is the first it sees.
    const done = JSON.stringify({ run: workflowId, add: { done: true } });
    const genuine = await post(server, "tally-hook", done, {
      "x-hub-signature-256": signWebhookBody(SIGNING, done),
      "x-weft-delivery": "done-1",
    });
    expect(genuine.statusCode).toBe(202);
    expect(await client.result(workflowId, { timeoutMs: 30_000 })).toEqual({ seen: [] });
  });

  it("lists the triggers in GraphQL with what each did", async () => {
    const { server } = context();
    const list = await waitFor("the triggers query", async () => {
      const answer = await server.inject({
        method: "POST",
        url: "/graphql",
        headers: { "content-type": "application/json" },
        payload: JSON.stringify({
          query:
            "{ triggers { name kind source action workflowType signal workflowId accepted refused } }",
        }),
      });
      return answer.json<{ data?: { triggers: Record<string, unknown>[] } }>().data?.triggers;
    });
    const hooks = list.filter((t) => t.kind === "WEBHOOK");
    expect(hooks).toEqual([
      expect.objectContaining({
        name: "start-hook",
        source: "/hooks/start-hook",
        action: "START",
        workflowType: "threeSteps",
        workflowId: "delivery",
      }),
      expect.objectContaining({
        name: "tally-hook",
        action: "SIGNAL",
        signal: "add",
        workflowId: "field:run",
      }),
    ]);
    expect(hooks[0]!.accepted).toBeGreaterThanOrEqual(3);
    expect(hooks[1]!.refused).toBeGreaterThanOrEqual(5);
  });
}

function codeOf(body: unknown): string | undefined {
  return (body as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code;
}
