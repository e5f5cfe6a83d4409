import type { Logger } from "../core/logger";
import type { WorkflowExample } from "../workflow/definitions";
import { DEFAULT_API_URL } from "./api-client";

export interface BannerOptions {
  where: string;
  roles: readonly string[];
  /** What is hosted: definitions, or what a supervised child reported. */
  workflows: readonly { name: string; example?: WorkflowExample }[];
  steps: readonly { name: string }[];
  apiAddress: string | undefined;
}

/** What `weft start` and `weft dev` print once Weft runs: where to look and what to try. */
export function banner(options: BannerOptions): string {
  const { roles, workflows, steps, apiAddress } = options;
  // The workflow to suggest: the first that says how to try it, else the first.
  const featured = workflows.find((w) => w.example?.input !== undefined) ?? workflows[0];
  return (
    `\nWeft is running (${roles.join(" + ")}) ${options.where}.\n` +
    `Hosting workflows: ${workflows.map((w) => w.name).join(", ") || "none"}; steps: ${steps.map((s) => s.name).join(", ") || "none"}.\n` +
    (apiAddress
      ? `GraphQL: ${apiAddress}/graphql (queries, mutations; subscriptions over WebSocket)\n` +
        `Dashboard: ${apiAddress}/\n`
      : "") +
    (featured ? cliHint(featured, apiAddress) : "") +
    `Stop with Ctrl-C (drains running steps).\n\n`
  );
}

/** Writes the banner to stderr (stdout carries the logs). */
export function announce(options: BannerOptions): void {
  process.stderr.write(banner(options));
}

/**
 * An error nothing caught still ends the process, as Node ends it: a role unsure of its own
 * state must not go on, and its supervisor starts it again. First it becomes a fatal line of
 * the process's JSON log, so what collects the logs sees why the process ended, not only the
 * stderr of a process that is gone.
 */
export function logCrashes(logger: Logger): void {
  process.on("uncaughtExceptionMonitor", (err, origin) => {
    logger.fatal({ err, origin }, "an error nothing caught ends the process");
  });
}

/**
 * SIGTERM / SIGINT drain the roles, then exit. `say`, when given, tells a person at a
 * terminal that it is stopping (the log says it too, at info).
 */
export function stopOnSignals(
  runtime: { stop(): Promise<void> },
  logger: Logger,
  say?: (text: string) => void,
): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say?.("Stopping: running steps finish first.\n");
    logger.info({ signal }, "draining");
    runtime.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

/** A JSON text for a POSIX shell's single quotes. */
function shellQuoted(value: unknown): string {
  return `'${JSON.stringify(value).replace(/'/g, `'\\''`)}'`;
}

/**
 * How to try a hosted workflow with `weft workflow`, which talks to the API: with the input
 * its definition gives as an example, else with a placeholder to fill in.
 */
function cliHint(
  workflow: { name: string; example?: WorkflowExample },
  apiAddress: string | undefined,
): string {
  const env = apiAddress && apiAddress !== DEFAULT_API_URL ? `WEFT_API_URL=${apiAddress} ` : "";
  const { example } = workflow;
  const input =
    example?.input !== undefined
      ? ` --input ${shellQuoted(example.input)}`
      : ` --input '<its input as JSON>'`;
  return (
    `Try ${workflow.name} in another terminal:\n` +
    `  ${env ? `export ${env.trim()}\n  ` : ""}ID=$(npx weft workflow start ${workflow.name}${input})\n` +
    `  npx weft workflow wait $ID       # or: describe $ID, history $ID\n` +
    (example?.note ? `${workflow.name} ${example.note}.\n` : "") +
    (apiAddress
      ? ""
      : `(the weft workflow commands talk to the API at WEFT_API_URL: run one with --roles api,projector)\n`)
  );
}
