import type { PortConsumedMessage, PortMessage } from "../transport/port";
import { deadLetterCodec } from "../schemas/codec";
import { headersToStrings } from "../transport/headers";

/** Wraps a record no one could decode, with the reason, for `weft.dlq`. */
export function deadLetterMessage(
  source: { topic: string; partition: number; message: PortConsumedMessage },
  reason: string,
  consumer: string,
): PortMessage {
  const { message } = source;
  return {
    key: message.key,
    value: deadLetterCodec.encode({
      sourceTopic: source.topic,
      partition: source.partition,
      offset: message.offset,
      key: message.key,
      value: message.value,
      headers: headersToStrings(message.headers),
      reason,
      consumer,
      at: Date.now(),
    }),
    headers: { ...deadLetterCodec.headers },
  };
}
