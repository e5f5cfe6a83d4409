/**
 * The errors a Kafka request answers with while a partition's leader or a group's coordinator
 * is being placed, moved or loaded, or its broker cannot be reached: asked again (with fresh
 * metadata), they pass once it is known and ready. kafkajs's own `retriable` flag covers most;
 * some of its admin calls give up on them regardless, and a few arrive as kafkajs's own error
 * names.
 */
const LEADER_MOVING =
  /NOT_LEADER|LEADER_NOT_AVAILABLE|UNKNOWN_TOPIC_OR_PARTITION|FENCED_LEADER_EPOCH|UNKNOWN_LEADER_EPOCH|REPLICA_NOT_AVAILABLE|KafkaJSConnection|KafkaJSRequestTimeout|KafkaJSBrokerNotFound|KafkaJSLockTimeout|KafkaJSNumberOfRetriesExceeded/;

/** True for an error that asking again, with fresh metadata, may get past. */
export function isTransient(err: unknown): boolean {
  const e = err as { type?: string; name?: string; retriable?: boolean } | undefined;
  return e?.retriable === true || LEADER_MOVING.test(`${e?.type ?? ""} ${e?.name ?? ""}`);
}
