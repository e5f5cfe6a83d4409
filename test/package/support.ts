/**
 * Commands as a user types them, for the tests of the published package: npm, npx and the
 * installed `weft`, in temporary apps outside the repository.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../support/env";

export const ROOT = join(__dirname, "..", "..");

/**
 * The environment of a user's shell: none of the npm variables of a surrounding `npm test`
 * (they would steer the inner npm), none of the Weft or service settings of the suite.
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|WEFT_|KAFKA_|REDIS_URL$|DATABASE_URL$|PORT$)/i.test(key)) continue;
    env[key] = value;
  }
  // Installs take what the npm cache holds and ask the registry only for what it lacks.
  return { ...env, npm_config_prefer_offline: "true", ...extra };
}

export interface Finished {
  code: number | null;
  output: string;
}

/** Runs a command to its end (killed past `timeoutMs`); resolves with its exit code and output. */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? userEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      killGroup(child, "SIGKILL");
      reject(
        new Error(`${command} ${args.join(" ")} ran past ${options.timeoutMs} ms:\n${output}`),
      );
    }, options.timeoutMs ?? 120_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Like `run`, and fails with the command's output unless it exits 0. */
export async function runOk(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<string> {
  const started = Date.now();
  const { code, output } = await run(command, args, options);
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${code}:\n${output}`);
  process.stdout.write(`${command} ${args.join(" ")}: ${Date.now() - started} ms\n`);
  return output;
}

/** A long-running command (`weft dev`): in its own process group, stopped with the group. */
export interface Server {
  readonly child: ChildProcess;
  /** The API's base URL, once the command printed it. */
  readonly address: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `command` and waits (bounded) until it prints where its API listens. */
export async function startServer(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; readyTimeoutMs?: number },
): Promise<Server> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(child, "SIGTERM");
      const killed = setTimeout(() => killGroup(child, "SIGKILL"), 15_000);
      await exited;
      clearTimeout(killed);
    }
  };
  try {
    const address = await waitFor(
      `${command} ${args.join(" ")} to serve its API`,
      () => {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}:\n${output}`);
        return /GraphQL: (http:\/\/\S+)\/graphql/.exec(output)?.[1];
      },
      options.readyTimeoutMs ?? 60_000,
      100,
    );
    return { child, address, output: () => output, stop };
  } catch (err) {
    await stop();
    (err as Error).message += `\n${output}`;
    throw err;
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    // The command's own process group (npm → sh → node): it and the children it started.
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/**
 * better-sqlite3 compiles its native module from source (a minute and a half on two cores)
 * unless prebuild-install finds a prebuilt one, and this machine reaches no host to download
 * one from. Hand it the module the repository's own install built, as an offline mirror would:
 * a local prebuild named as prebuild-install looks for it, in `dir/prebuilds`, announced by an
 * `.prebuild-installrc` in `dir`, which prebuild-install reads in every app below `dir`.
 * Returns false (installs will compile) when the repository has no built module to offer.
 */
export async function offerSqlitePrebuild(dir: string): Promise<boolean> {
  const pkg = join(ROOT, "node_modules", "better-sqlite3");
  const built = join(pkg, "build", "Release", "better_sqlite3.node");
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  const glibc = process.platform === "linux" && report.header?.glibcVersionRuntime !== undefined;
  if (!existsSync(built) || !glibc) return false;
  const { version } = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as {
    version: string;
  };
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  mkdirSync(join(dir, "prebuilds"), { recursive: true });
  await runOk(
    "tar",
    ["czf", join(dir, "prebuilds", name), "-C", pkg, "build/Release/better_sqlite3.node"],
    {
      cwd: dir,
    },
  );
  writeFileSync(join(dir, ".prebuild-installrc"), `local-prebuilds=${join(dir, "prebuilds")}\n`);
  return true;
}
