import { PREFIXES_KEY } from "./topic-cleanup";
import { randomBytes } from "node:crypto";
import { loadConfig, type ConfigInput, type WeftConfig } from "../../core/config";
import { createLogger, type Logger } from "../../core/logger";

/** A config with topics and groups of its own, so tests never see each other's records. */
export function isolatedConfig(overrides: ConfigInput = {}): WeftConfig {
  const topicPrefix = `t${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  // The file's test environment deletes these topics when the file is done.
  const global = globalThis as unknown as Record<string, Set<string> | undefined>;
  (global[PREFIXES_KEY] ??= new Set()).add(topicPrefix);
  return loadConfig({
    topicPrefix,
    commandPartitions: 4,
    taskPartitions: 4,
    logLevel: process.env.WEFT_TEST_LOG_LEVEL ?? "warn",
    ...overrides,
  });
}

export function testLogger(config: WeftConfig): Logger {
  return createLogger(config.logLevel);
}

/** Polls `check` until it returns a value other than undefined/false, or fails after timeoutMs. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
