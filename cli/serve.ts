import type { Logger } from "../core/logger";
import { DEFAULT_API_URL } from "./api-client";

/** What `weft start` and `weft dev` print once Weft runs: where to look and what to try. */
export function announce(options: {
  where: string;
  roles: readonly string[];
  /** What is hosted, by name (definitions, or the names a supervised child reported). */
  workflows: readonly { name: string }[];
  steps: readonly { name: string }[];
  apiAddress: string | undefined;
}): void {
  const { roles, workflows, steps, apiAddress } = options;
  const example = workflows[0]?.name;
  process.stderr.write(
    `\nWeft is running (${roles.join(" + ")}) ${options.where}.\n` +
      `Hosting workflows: ${workflows.map((w) => w.name).join(", ") || "none"}; steps: ${steps.map((s) => s.name).join(", ") || "none"}.\n` +
      (apiAddress
        ? `GraphQL: ${apiAddress}/graphql (queries, mutations; subscriptions over WebSocket)\n` +
          `Dashboard: ${apiAddress}/\n`
        : "") +
      (example ? cliHint(example, apiAddress) : "") +
      `Stop with Ctrl-C (drains running steps).\n\n`,
  );
}

/** SIGTERM / SIGINT drain the roles, then exit. */
export function stopOnSignals(runtime: { stop(): Promise<void> }, logger: Logger): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
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

/** How to try the hosted workflows with `weft workflow`, which talks to the API. */
function cliHint(example: string, apiAddress: string | undefined): string {
  const env = apiAddress && apiAddress !== DEFAULT_API_URL ? `WEFT_API_URL=${apiAddress} ` : "";
  return (
    `In another terminal:\n  ${env}npx weft workflow start ${example} --input '{"email":"ada@example.com"}' --wait\n` +
    `  ${env}npx weft workflow describe <workflowId>\n` +
    (apiAddress
      ? ""
      : `(the weft workflow commands talk to the API at WEFT_API_URL: run one with --roles api,projector)\n`)
  );
}
