import pino from "pino";
import { serializeError } from "./error-serializer";

export type Logger = pino.Logger;

/**
 * Pino JSON, to stdout unless `destination` is given (the CLI's human format on a terminal
 * is one: `cli/log-output.ts`).
 */
export function createLogger(
  level: string,
  bindings: Record<string, unknown> = {},
  destination?: pino.DestinationStream,
): Logger {
  const options = {
    level,
    base: { pid: process.pid, ...bindings },
    serializers: { err: serializeError },
  };
  return destination ? pino(options, destination) : pino(options);
}
