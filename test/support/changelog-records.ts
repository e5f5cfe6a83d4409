/** A decider's changelog writes as a consumer of the topic receives them, for restore tests. */
import { changelogMessages, type ChangelogEntry } from "../../deciders/run-changelog";
import type { PortConsumedMessage } from "../../transport/port";

/** Appends the records of `changes` to `log`, as read back (offsets continue the log's). */
export function appendChangelog(log: PortConsumedMessage[], changes: ChangelogEntry[]): void {
  for (const m of changes.flatMap((change) => changelogMessages(change, 0))) {
    const headers: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = Buffer.from(String(v));
    log.push({
      key: m.key === undefined || m.key === null ? null : Buffer.from(m.key),
      value: m.value === null ? null : Buffer.from(m.value),
      timestamp: "0",
      attributes: 0,
      offset: String(log.length),
      headers,
    });
  }
}
