/**
 * How a webhook delivery proves where it comes from: a bearer token, or an HMAC of the raw
 * body. Every comparison takes the same time whatever the bytes (crypto.timingSafeEqual over
 * SHA-256 digests, which also hides the lengths), so a caller learns nothing by timing tries.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { WebhookTriggerSource } from "./definition";

export type AuthVerdict = { ok: true } | { ok: false; message: string };

/** Compares two secrets in constant time. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * What can be checked from the headers alone, before the body is read: the token, or that a
 * signature header is there at all.
 */
export function checkHeaders(
  source: Readonly<WebhookTriggerSource>,
  headers: Readonly<Record<string, string | string[] | undefined>>,
): AuthVerdict {
  if (source.token !== undefined) {
    const match = /^Bearer (.+)$/.exec(String(headers.authorization ?? ""));
    if (!match) return { ok: false, message: "this webhook needs Authorization: Bearer <token>" };
    return sameSecret(match[1]!, source.token)
      ? { ok: true }
      : { ok: false, message: "the webhook token does not match" };
  }
  const header = source.hmac!.header!;
  if (typeof headers[header] !== "string" || headers[header] === "")
    return { ok: false, message: `this webhook needs an HMAC signature in ${header}` };
  return { ok: true };
}

/** The HMAC check over the body as received (token webhooks pass). */
export function checkSignature(
  source: Readonly<WebhookTriggerSource>,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: Buffer,
): AuthVerdict {
  const hmac = source.hmac;
  if (!hmac) return { ok: true };
  const given = String(headers[hmac.header!] ?? "").trim();
  const digest = createHmac(hmac.algorithm!, hmac.secret).update(body).digest("hex");
  return sameSecret(given.toLowerCase(), `${hmac.prefix ?? ""}${digest}`.toLowerCase())
    ? { ok: true }
    : { ok: false, message: `the signature in ${hmac.header} does not match the body` };
}

/** What a sender computes: the header value for `body` (for clients and tests). */
export function signWebhookBody(
  hmac: { secret: string; algorithm?: string; prefix?: string },
  body: string | Buffer,
): string {
  const digest = createHmac(hmac.algorithm ?? "sha256", hmac.secret)
    .update(body)
    .digest("hex");
  return `${hmac.prefix ?? ""}${digest}`;
}
