/**
 * The chaos report names why a role process ended on its own. Node's own crash output is
 * taken from a real child process, so a change in how Node prints an uncaught error shows here.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { exitReason } from "../../chaos/exit-reason";

async function crashOutput(script: string): Promise<string> {
  const run = promisify(execFile)(process.execPath, ["-e", script], { timeout: 30_000 });
  const failed = (await run.then(
    () => undefined,
    (err: unknown) => err,
  )) as { code?: number; stderr?: string } | undefined;
  expect(failed?.code).toBe(1);
  return failed?.stderr ?? "";
}

it("names an unhandled rejection's error and its type, not Node's closing line", async () => {
  const stderr = await crashOutput(`
    console.error('{"level":40,"msg":"a warning before"}');
    class KafkaJSProtocolError extends Error {}
    KafkaJSProtocolError.prototype.name = "KafkaJSProtocolError";
    const err = Object.assign(new KafkaJSProtocolError("This server is not the leader"), {
      retriable: true,
      type: "NOT_LEADER_OR_FOLLOWER",
      code: 6,
    });
    Promise.reject(err);
  `);
  expect(stderr).toMatch(/Node\.js v\d+/);
  expect(exitReason(stderr)).toBe(
    "KafkaJSProtocolError: This server is not the leader | type: 'NOT_LEADER_OR_FOLLOWER',",
  );
});

it("names an uncaught exception's headline", async () => {
  const stderr = await crashOutput(`setTimeout(() => { null.x; }, 0);`);
  expect(exitReason(stderr)).toMatch(/^TypeError: Cannot read properties of null/);
});

it("falls back to the last two lines when no error was printed", () => {
  expect(exitReason('first\n{"msg":"closing"}\n=== chaos marker\nlast words\n')).toBe(
    '{"msg":"closing"} | last words',
  );
});
