/**
 * Tests of the signup flow on Weft's test kit: no servers, and virtual time, so the hour's wait
 * and the day's timeout take milliseconds. `weft init` puts this file next to the flow, where
 * `npm test` runs it with Node's test runner (`node --import tsx --test`).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkReplay, createTestEnvironment } from "@weft-engine/weft/testing";
import { sendFollowupEmail, sendWelcomeEmail, userSignupFlow } from "./signup";

const HOUR = 60 * 60 * 1000;

test("thanks the user who confirms", async () => {
  const env = await createTestEnvironment({
    workflows: [userSignupFlow],
    steps: [sendWelcomeEmail, sendFollowupEmail],
  });
  try {
    const id = await env.start(userSignupFlow, { email: "ada@example.com" });
    await env.skipTime(HOUR); // past the wait
    await env.signal(id, "confirmed", { by: "link" });
    assert.deepEqual(await env.result(id), { sent: true, confirmed: true });
    // The recorded history replays through the current code: safe to deploy.
    assert.equal((await checkReplay(userSignupFlow, await env.history(id))).ok, true);
  } finally {
    await env.close();
  }
});

test("reminds the user who does not confirm in time", async () => {
  const env = await createTestEnvironment({
    workflows: [userSignupFlow],
    steps: [sendWelcomeEmail, sendFollowupEmail],
  });
  try {
    const id = await env.start(userSignupFlow, { email: "grace@example.com" });
    // No signal: result() skips the wait and the confirmation timeout.
    assert.deepEqual(await env.result(id), { sent: true, confirmed: false });
  } finally {
    await env.close();
  }
});
