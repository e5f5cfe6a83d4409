/**
 * How long a Weft process takes from its start to "Weft is running", and the CPU it spends on
 * the way: what a role restarted after a crash costs before it serves again. Each role set is
 * started `--starts` times as `weft start <module> --roles <set>`, stopped with SIGTERM after it
 * is ready, and started again. With `--compare <weft.js>` (another build's CLI, e.g. an older
 * checkout's dist/cli/weft.js) the two take turns, start by start, on the same services.
 * `--contend N` runs N busy processes beside it (the CPU shared, as on a loaded machine).
 *
 *   npm run bench:startup -- [--starts 5] [--roles "decider,worker;decider;worker;api;projector"]
 *                            [--compare /other/dist/cli/weft.js] [--contend 0]
 *
 * Prints per role set and build the medians of wall and CPU ms to ready, the ratio of this
 * build to the other, and the load average beside them. Services: KAFKA_BROKERS, REDIS_URL and
 * DATABASE_URL (else the infra script's); the topics get a prefix of their own.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../core/config";
import { createLogger } from "../core/logger";
import { createKafka } from "../adapters/kafka/client";
import { deleteTopicsOf } from "../test/support/topic-cleanup";
import { median } from "./peers/measure";
import { cpuSeconds } from "./peers/process-stats";

const { values } = parseArgs({
  options: {
    starts: { type: "string", default: "5" },
    roles: { type: "string", default: "decider,worker;decider;worker;api;projector" },
    compare: { type: "string" },
    contend: { type: "string", default: "0" },
  },
});
const STARTS = Number(values.starts);
const ROLE_SETS = values.roles.split(";").map((s) => s.trim());
/** What `weft start` prints on stderr once every role of the process runs. */
const READY_MARK = "Weft is running";
const READY_TIMEOUT_MS = 180_000;
/** The workflows and steps the decider and worker roles host: the chaos suite's, of the build. */
const moduleOf = (cli: string) => join(dirname(cli), "..", "chaos", "workflows.js");

interface Build {
  readonly name: string;
  readonly cli: string;
}

interface Start {
  build: string;
  roles: string;
  wallMs: number;
  cpuMs: number;
  load: number;
}

const topicPrefix = `bench-startup-${randomBytes(3).toString("hex")}`;
const env = { ...process.env, WEFT_TOPIC_PREFIX: topicPrefix, PORT: "0", WEFT_LOG_LEVEL: "warn" };

/** One start: spawn → ready (wall and the child's CPU then), then SIGTERM and the exit. */
function startOnce(build: Build, roles: string): Promise<Start> {
  return new Promise((resolve, reject) => {
    const load = loadavg()[0]!;
    const begun = performance.now();
    const child = spawn(
      process.execPath,
      [build.cli, "start", moduleOf(build.cli), "--roles", roles],
      {
        env,
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let err = "";
    let ready: Start | undefined;
    const timer = setTimeout(() => child.kill("SIGKILL"), READY_TIMEOUT_MS);
    child.stderr.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-20_000);
      if (ready || !err.includes(READY_MARK)) return;
      const wallMs = performance.now() - begun;
      ready = { build: build.name, roles, wallMs, cpuMs: cpuSeconds(child.pid!) * 1000, load };
      child.kill("SIGTERM");
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (ready) resolve(ready);
      else reject(new Error(`${build.name} --roles ${roles} exited (${code ?? signal}):\n${err}`));
    });
  });
}

async function main(): Promise<void> {
  const builds: Build[] = [{ name: "this build", cli: join(__dirname, "..", "cli", "weft.js") }];
  if (values.compare) builds.push({ name: "compared", cli: values.compare });
  const hogs = Array.from({ length: Number(values.contend) }, () =>
    spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }),
  );
  console.log(
    `${STARTS} starts per role set and build; ${hogs.length} busy process(es) beside; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  const starts: Start[] = [];
  try {
    // Not counted: the first start creates the topics and the read-model schema.
    for (const build of builds) await startOnce(build, "decider,worker,projector");
    for (const roles of ROLE_SETS) {
      for (let i = 0; i < STARTS; i++) {
        // Take turns, and rotate who goes first.
        const order = i % 2 === 0 ? builds : [...builds].reverse();
        for (const build of order) starts.push(await startOnce(build, roles));
      }
    }
  } finally {
    for (const hog of hogs) hog.kill("SIGKILL");
    const kafka = createKafka(loadConfig({ topicPrefix }), createLogger("silent"));
    await deleteTopicsOf(kafka, [topicPrefix]);
  }
  console.log("\nMedians of wall and CPU ms from spawn to ready:\n");
  const header = builds.map((b) => `${b.name}: wall / CPU ms`).join(" | ");
  const ratio = builds.length > 1 ? " | this / compared, wall / CPU" : "";
  console.log(`| roles | ${header}${ratio} | load |`);
  console.log(`| --- | ${builds.map(() => "---").join(" | ")}${ratio ? " | ---" : ""} | --- |`);
  for (const roles of ROLE_SETS) {
    const of = (build: Build, pick: (s: Start) => number) =>
      median(starts.filter((s) => s.roles === roles && s.build === build.name).map(pick));
    const cells = builds.map(
      (b) => `${of(b, (s) => s.wallMs).toFixed(0)} / ${of(b, (s) => s.cpuMs).toFixed(0)}`,
    );
    const ratios =
      builds.length > 1
        ? ` | ${(of(builds[0]!, (s) => s.wallMs) / of(builds[1]!, (s) => s.wallMs)).toFixed(2)} / ${(of(builds[0]!, (s) => s.cpuMs) / of(builds[1]!, (s) => s.cpuMs)).toFixed(2)}`
        : "";
    const loads = starts.filter((s) => s.roles === roles).map((s) => s.load);
    console.log(
      `| ${roles} | ${cells.join(" | ")}${ratios} | ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} |`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
