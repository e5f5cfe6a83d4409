/**
 * The example `npm start` runs and `weft init` copies into a new project: a signup flow with a
 * step, a durable wait, a signal with a timeout and a follow-up step. `WEFT_EXAMPLE_WAIT_MS`
 * shortens the hour-long wait.
 */
import { defineStep, defineWorkflow } from "@weft-engine/weft";

export interface SignupInput {
  email: string;
}

/** Stands in for a mail service: records what it would send, once per idempotency key. */
export const outbox = new Map<string, { to: string; kind: string }>();

export const sendWelcomeEmail = defineStep(
  "sendWelcomeEmail",
  (input: SignupInput, step) => {
    outbox.set(step.idempotencyKey, { to: input.email, kind: "welcome" });
    return { sent: true };
  },
  { retry: { maximumAttempts: 5, backoff: "exponential", initialIntervalMs: 1000 } },
);

export const sendFollowupEmail = defineStep(
  "sendFollowupEmail",
  (input: SignupInput & { confirmed: boolean }, step) => {
    outbox.set(step.idempotencyKey, {
      to: input.email,
      kind: input.confirmed ? "thanks" : "reminder",
    });
    return { sent: true, confirmed: input.confirmed };
  },
);

/** The flow with its waits as parameters, so tests and demos can shorten them. */
export function createUserSignupFlow(waits: { waitMs: number; confirmTimeoutMs: number }) {
  return defineWorkflow(
    "userSignupFlow",
    async (ctx, input: SignupInput) => {
      await ctx.step(sendWelcomeEmail, input);
      await ctx.wait(waits.waitMs); // durable: survives restarts
      const answer = await ctx.waitForSignal("confirmed", { timeoutMs: waits.confirmTimeoutMs });
      return ctx.step(sendFollowupEmail, { ...input, confirmed: answer !== undefined });
    },
    {
      // What `weft dev` suggests trying.
      example: {
        input: { email: "ada@example.com" },
        note:
          `sends a welcome email, waits ${inWords(waits.waitMs)}, then up to ${inWords(waits.confirmTimeoutMs)} ` +
          `for the signal "confirmed" (weft workflow signal <workflowId> confirmed '{}'): ` +
          `with it the result is {"sent":true,"confirmed":true}; without it a reminder goes out ` +
          `and the result is {"sent":true,"confirmed":false}`,
      },
    },
  );
}

/** `5 s`, `24 h`, `250 ms`. */
function inWords(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}

export const userSignupFlow = createUserSignupFlow({
  waitMs: Number(process.env.WEFT_EXAMPLE_WAIT_MS ?? 60 * 60 * 1000),
  confirmTimeoutMs: Number(process.env.WEFT_EXAMPLE_CONFIRM_TIMEOUT_MS ?? 86_400_000),
});
