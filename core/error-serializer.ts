import pino from "pino";

/** pino's error serializer's output: the class name in `type`, the error's own fields after. */
type SerializedError = ReturnType<typeof pino.stdSerializers.err> & { errorType?: string };

/**
 * pino's error serializer, keeping an error's own `type`. pino writes the class name to `type`
 * and then copies only the fields it has not set, so a Kafka protocol error's name
 * (`NOT_LEADER_OR_FOLLOWER` on a KafkaJSProtocolError) was lost from every log line; it is
 * kept as `errorType`, taken from the first error along the `cause` chain that has one (a
 * KafkaJSNumberOfRetriesExceeded carries the last try's error as its cause).
 */
export function serializeError(err: unknown): unknown {
  const serialized = pino.stdSerializers.err(err as Error) as unknown;
  if (serialized === err || typeof serialized !== "object" || serialized === null)
    return serialized;
  keepOwnTypes(serialized as SerializedError, err);
  return serialized;
}

function keepOwnTypes(serialized: SerializedError, err: unknown): void {
  const own = ownType(err);
  if (own !== undefined && own !== serialized.type) serialized.errorType = own;
  // Errors in other fields (kafkajs's `originalError`) were serialized by pino's own function.
  for (const [key, value] of Object.entries(serialized)) {
    const raw = (err as Record<string, unknown>)[key];
    if (value !== null && typeof value === "object" && raw instanceof Error)
      keepOwnTypes(value as SerializedError, raw);
  }
}

/** The `type` string of `err` or, failing that, of the first error along its causes. */
function ownType(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  for (let e = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const type = (e as { type?: unknown }).type;
    if (typeof type === "string" && type !== "") return type;
  }
  return undefined;
}
