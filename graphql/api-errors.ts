import mercurius from "mercurius";
import { WeftError } from "../core/errors";

/** A GraphQL error whose `extensions.code` is the WeftError's stable code. */
export function toGraphQLError(err: unknown): unknown {
  if (WeftError.is(err)) return new mercurius.ErrorWithProps(err.message, { code: err.code });
  return err;
}

/** Runs a resolver body, turning a WeftError it throws into a coded GraphQL error. */
export async function withErrorCodes<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toGraphQLError(err);
  }
}
