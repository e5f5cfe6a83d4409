/**
 * `weft start` and `weft dev` log an error nothing caught as a fatal line of their JSON log
 * before Node ends the process (cli/serve.ts, logCrashes). Run in a child Node process: the
 * process really ends, as a role process would.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const ROOT = join(__dirname, "..", "..");

interface Ended {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

async function crash(format: "json" | "pretty", cause: string): Promise<Ended> {
  const script = `
    const { cliLogger } = require("./cli/log-output.ts");
    const { logCrashes } = require("./cli/serve.ts");
    const logger = cliLogger(${JSON.stringify(format)}, "info");
    logCrashes(logger);
    logger.info("running");
    ${cause}
  `;
  const run = promisify(execFile)(process.execPath, ["--import", "tsx", "-e", script], {
    cwd: ROOT,
    timeout: 60_000,
  });
  const ended = (await run.then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code?: number; stdout: string; stderr: string }) => err,
  )) as Ended;
  return { code: ended.code, stdout: ended.stdout, stderr: ended.stderr };
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

it("logs an unhandled rejection as a fatal JSON line, with the error's own fields, and still ends the process", async () => {
  const ended = await crash(
    "json",
    `Promise.reject(Object.assign(new Error("boom"), { code: 6, retriable: true }));`,
  );
  expect(ended.code).toBe(1);
  const fatal = jsonLines(ended.stdout).find((line) => line.level === 60);
  expect(fatal).toMatchObject({
    msg: "an error nothing caught ends the process",
    origin: "unhandledRejection",
    err: { message: "boom", code: 6, retriable: true },
  });
  // Node's own account is still written where it always was.
  expect(ended.stderr).toContain("boom");
});

it("logs an uncaught exception in the human format too", async () => {
  const ended = await crash(
    "pretty",
    `setTimeout(() => { throw new TypeError("bad state"); }, 0);`,
  );
  expect(ended.code).toBe(1);
  expect(ended.stdout).toContain("an error nothing caught ends the process");
  expect(ended.stdout).toContain("bad state");
  expect(jsonLines(ended.stdout)).toEqual([]);
});
