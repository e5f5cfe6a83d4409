/**
 * A WeftError thrown in a resolver reaches the caller with its stable code and its details as
 * the GraphQL error's extensions: a start that was not acknowledged names the workflow ID to
 * send it again with.
 */
import { WeftError } from "../../core/errors";
import { withErrorCodes } from "../../graphql/api-errors";

it("carries a WeftError's code and details into the GraphQL error's extensions", async () => {
  const thrown = await withErrorCodes(() => {
    throw new WeftError("NOT_ACKNOWLEDGED", "not acknowledged", {
      workflowId: "order-1",
      requestId: "r-1",
    });
  }).catch((err: unknown) => err as { message: string; extensions: Record<string, unknown> });
  expect(thrown.message).toBe("not acknowledged");
  expect(thrown.extensions).toEqual({
    code: "NOT_ACKNOWLEDGED",
    workflowId: "order-1",
    requestId: "r-1",
  });
});

it("keeps the code when details name a code of their own", async () => {
  const thrown = await withErrorCodes(() => {
    throw new WeftError("NOT_FOUND", "no run", { code: "something else" });
  }).catch((err: unknown) => err as { extensions: Record<string, unknown> });
  expect(thrown.extensions.code).toBe("NOT_FOUND");
});

it("leaves other errors as they are", async () => {
  const plain = new Error("boom");
  await expect(withErrorCodes(() => Promise.reject(plain))).rejects.toBe(plain);
});
