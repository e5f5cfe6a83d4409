/**
 * The public entry's ways to start Weft. Each loads what it starts when it is called, not when
 * the package is imported: a module that only defines workflows and steps (what `weft start`
 * loads into every role's process) then compiles none of the roles, and each role loads only
 * its own code (sdk/runtime.ts). A process restarted after a crash is ready that much sooner.
 */
import type * as Runtime from "./runtime";
import type * as Embedded from "./embedded";
import type * as EmbeddedBackends from "../adapters/embedded-backends";

/** Starts the given roles on Kafka, Redis and PostgreSQL (see sdk/runtime.ts). */
export function startRuntime(options: Runtime.RuntimeOptions): Promise<Runtime.Runtime> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("./runtime") as typeof Runtime).startRuntime(options);
}

/** Starts Weft in this process on the embedded log (see sdk/embedded.ts). */
export function startEmbedded(options?: Embedded.EmbeddedOptions): Promise<Embedded.EmbeddedWeft> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("./embedded") as typeof Embedded).startEmbedded(options);
}

/** The embedded adapter set, for startRuntime's `backends` (see adapters/embedded-backends.ts). */
export function embeddedBackends(
  ...args: Parameters<typeof EmbeddedBackends.embeddedBackends>
): ReturnType<typeof EmbeddedBackends.embeddedBackends> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("../adapters/embedded-backends") as typeof EmbeddedBackends).embeddedBackends(
    ...args,
  );
}
