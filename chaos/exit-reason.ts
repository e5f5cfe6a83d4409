/**
 * What a role process's last output says about why it ended. When Node ends a process on an
 * uncaught error it prints the error's headline, its stack, its own properties and then its
 * version: the last line alone ("Node.js v20…") names nothing, so the headline and the error's
 * `type` (kafkajs's protocol errors carry one) are picked out.
 */
export function exitReason(lastLines: string): string {
  const lines = lastLines
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("=== chaos"));
  let at = lines.length - 1;
  while (at >= 0 && !ERROR_HEADLINE.test(lines[at]!)) at--;
  if (at < 0) return lines.slice(-2).join(" | ").slice(0, MAX);
  const type = lines.slice(at).find((line) => /^type: /.test(line));
  return [lines[at], type].filter(Boolean).join(" | ").slice(0, MAX);
}

/** `Error: …`, `KafkaJSProtocolError: …`, `TypeError [ERR_X]: …`, as Node prints them. */
const ERROR_HEADLINE = /^(?:Uncaught )?[A-Z]\w*(?:Error|Exception)(?: \[\w+\])?: /;
const MAX = 300;
