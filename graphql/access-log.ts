/*
 * The access-log switch, in a module of its own: `weft dev` reads it before it loads the API's
 * HTTP stack.
 */
import { ConfigError } from "../core/errors";

/** `WEFT_ACCESS_LOG`: true for 1/true/on, false for 0/false/off, undefined when unset. */
export function accessLogFromEnv(env: NodeJS.ProcessEnv): boolean | undefined {
  const raw = env.WEFT_ACCESS_LOG?.trim().toLowerCase();
  if (raw === undefined || raw === "") return undefined;
  if (["1", "true", "on"].includes(raw)) return true;
  if (["0", "false", "off"].includes(raw)) return false;
  throw new ConfigError(
    `WEFT_ACCESS_LOG must be 1 or 0 (true/false, on/off), got ${JSON.stringify(env.WEFT_ACCESS_LOG)}`,
  );
}
