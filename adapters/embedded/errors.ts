/**
 * Errors of the embedded log. `type` carries the Kafka error name a role may test for, so
 * `isFencingError` (transport/kafka.ts) and retry checks treat them as they treat kafkajs's.
 */
export class EmbeddedLogError extends Error {
  override readonly name = "EmbeddedLogError";

  constructor(
    readonly type: string,
    message: string,
    readonly retriable = false,
  ) {
    super(`${message} (${type})`);
  }
}

export const producerFenced = (transactionalId: string, epoch: number, current: number) =>
  new EmbeddedLogError(
    "PRODUCER_FENCED",
    `transactional producer ${transactionalId} (epoch ${epoch}) was fenced by a newer one (epoch ${current})`,
  );

export const unknownTopicOrPartition = (topic: string, partition?: number) =>
  new EmbeddedLogError(
    "UNKNOWN_TOPIC_OR_PARTITION",
    partition === undefined
      ? `topic ${topic} does not exist`
      : `topic ${topic} has no partition ${partition}`,
  );
