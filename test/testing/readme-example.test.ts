/**
 * The test kit on the signup example that `npm start` runs and `weft init` copies (the docs' own
 * examples run in test/docs/code-blocks.test.ts).
 */
import { sendFollowupEmail, sendWelcomeEmail, userSignupFlow } from "../../examples/signup";
import { checkReplay, createTestEnvironment } from "../../sdk/testing";

const HOUR = 60 * 60 * 1000;

it("sends the follow-up after the confirmation", async () => {
  const env = await createTestEnvironment({
    workflows: [userSignupFlow],
    steps: [sendWelcomeEmail, sendFollowupEmail],
    stepOverrides: { sendWelcomeEmail: () => ({ sent: true }) }, // no real mail
  });
  try {
    const id = await env.start(userSignupFlow, { email: "ada@example.com" });
    await env.skipTime(HOUR); // past the one-hour wait
    await env.signal(id, "confirmed", { by: "link" });
    expect(await env.result(id)).toEqual({ sent: true, confirmed: true });
    const history = await env.history(id);
    expect(history.map((e) => e.body.type)).toContain("SignalReceived");
    expect((await checkReplay(userSignupFlow, history)).ok).toBe(true);
  } finally {
    await env.close();
  }
});

it("sends a reminder when nobody confirms within a day", async () => {
  const env = await createTestEnvironment({
    workflows: [userSignupFlow],
    steps: [sendWelcomeEmail, sendFollowupEmail],
    startTime: 0,
  });
  try {
    const id = await env.start(userSignupFlow, { email: "grace@example.com" });
    expect(await env.result(id)).toEqual({ sent: true, confirmed: false });
    expect(env.now()).toBe(HOUR + 24 * HOUR);
  } finally {
    await env.close();
  }
});
