import type { FastifyReply } from "fastify";
import type { ErrorCode } from "../core/errors";

/** A GraphQL-shaped error answer, so every client reads `errors[0].extensions.code` alike. */
export function codedErrorBody(code: ErrorCode, message: string) {
  return { data: null, errors: [{ message, extensions: { code } }] };
}

/** Answers with a coded error; for hooks that refuse a request before any work is done. */
export function sendCodedError(
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message: string,
): FastifyReply {
  return reply
    .code(status)
    .type("application/json; charset=utf-8")
    .send(codedErrorBody(code, message));
}
