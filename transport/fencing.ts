/**
 * Whether an error says this producer was fenced (a newer owner of its transactional ID, or a
 * transaction state only a fenced producer reaches): from kafkajs, Weft's pipelined producer
 * or the embedded log, which name them alike.
 */
export function isFencingError(err: unknown): boolean {
  const e = err as { type?: string; name?: string; message?: string } | undefined;
  const text = `${e?.type ?? ""} ${e?.name ?? ""} ${e?.message ?? ""}`;
  return /PRODUCER_FENCED|INVALID_PRODUCER_EPOCH|fenced|INVALID_TXN_STATE|TRANSACTIONAL_ID_AUTHORIZATION/i.test(
    text,
  );
}
