import { join, resolve } from "node:path";
import { resolveConfig, type ConfigInput, type WeftConfig } from "../core/config";
import { ConfigError } from "../core/errors";
import { createLogger, type Logger } from "../core/logger";
import type { ApiListenOptions } from "../graphql/api-role";
import { openReadModelDb, ReadModelDb } from "../projections/read-model-db";
import type { OpenDatabase } from "../adapters/read-side-backends";
import type { SyncMode } from "../adapters/embedded";
import type { TriggerDefinition } from "../triggers/definition";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../workflow/definitions";
import type { Backends } from "../adapters/backends";
import { WeftClient } from "./client";
import { embeddedBackends } from "../adapters/embedded-backends";
import { startRuntime, type Role, type Runtime, type RuntimeOptions } from "./runtime";
import { DEFAULT_EMBEDDED_DIR } from "./embedded-dir";

export interface EmbeddedOptions {
  /** Where everything is kept; default `.weft` in the working directory. */
  dir?: string;
  workflows?: readonly AnyWorkflowDefinition[];
  steps?: readonly AnyStepDefinition[];
  /**
   * Triggers: the Kafka ones consume their topic from the embedded log (not a broker), the
   * webhooks are served by the api role. See docs/triggers.md.
   */
  triggers?: readonly TriggerDefinition[];
  /** Where the api role listens (it runs when there is a read-model database), or false. */
  api?: ApiListenOptions | false;
  /**
   * The read models of the projector and api roles. Default: a SQLite file in `dir`
   * (`read-models.db`), or the database `DATABASE_URL` names when that variable is set
   * (PostgreSQL, or `sqlite:/path/file.db`). `false`: none, and only the decider and worker run.
   */
  database?: OpenDatabase | false;
  /** How the log reaches the disk; default "interval" (see adapters/embedded/README.md). */
  sync?: SyncMode;
  config?: WeftConfig | ConfigInput;
  logger?: Logger;
  worker?: RuntimeOptions["worker"];
  /** Hosts schedules (docs/schedules.md); the decider and worker then run. Default false. */
  schedules?: boolean;
}

/** Every role of a Weft installation in this process, on the state in one directory. */
export interface EmbeddedWeft extends Runtime {
  /** The directory, resolved. */
  readonly dir: string;
  readonly backends: Backends;
  /** Roles running here. */
  readonly roles: readonly Role[];
  /** A client on this process's log (close it before `stop`). */
  connectClient(): Promise<WeftClient>;
}

/**
 * Embedded mode: the decider and worker (and, given a read-model database, the projector and
 * the API) in this process, on the embedded log in `dir`, with leases, the migration lock and
 * live updates in memory. No Kafka, no Redis. A restart on the same directory, after `stop()`
 * or after the process was killed, resumes every open run, its pending timers and waits too.
 */
export async function startEmbedded(options: EmbeddedOptions = {}): Promise<EmbeddedWeft> {
  const dir = resolve(options.dir ?? DEFAULT_EMBEDDED_DIR);
  const config = resolveConfig(options.config);
  const logger = options.logger ?? createLogger(config.logLevel);
  const workflows = options.workflows ?? [];
  const steps = options.steps ?? [];
  const database = embeddedDatabase(options, config, logger, dir);
  const openDatabase = database?.open;
  if (workflows.length === 0 && steps.length === 0 && !openDatabase) {
    throw new ConfigError(
      "an embedded Weft needs workflows, steps or a read-model database to run",
    );
  }
  const backends = await embeddedBackends({
    directory: dir,
    sync: options.sync,
    logger,
    openDatabase,
    ownsDatabase: database?.inDirectory,
  });
  const roles: Role[] = [];
  if (workflows.length > 0 || options.schedules) roles.push("decider");
  if (steps.length > 0 || options.schedules) roles.push("worker");
  const triggers = options.triggers ?? [];
  if (triggers.some((t) => t.source.type === "kafka")) roles.push("trigger");
  if (backends.hasDatabase) {
    roles.push("projector");
    if (options.api !== false) roles.push("api");
  } else {
    logger.info("no read-model database (database: false): the projector and the API do not run");
  }
  let runtime: Runtime;
  try {
    runtime = await startRuntime({
      workflows,
      steps,
      triggers,
      roles,
      config,
      logger,
      backends,
      schedules: options.schedules,
      worker: options.worker,
      api: options.api === false ? undefined : options.api,
    });
    await runtime.decider?.ready();
  } catch (err) {
    await backends.close();
    throw err;
  }
  logger.info({ dir, roles }, "embedded Weft ready");
  const started = runtime;
  let stopped: Promise<void> | undefined;
  return {
    // The runtime's fields are all settled once it has started.
    ...started,
    dir,
    backends,
    roles,
    connectClient: () => WeftClient.connect({ config, logger, transport: backends.transport }),
    stop() {
      stopped ??= started.stop().finally(() => backends.close());
      return stopped;
    },
  };
}

/** The file of the read models in the embedded directory. */
const EMBEDDED_DATABASE_FILE = "read-models.db";

/**
 * The read-model database of embedded mode (see `EmbeddedOptions.database`), and whether it is
 * the directory's own file.
 */
function embeddedDatabase(
  options: EmbeddedOptions,
  config: WeftConfig,
  logger: Logger,
  dir: string,
): { open: OpenDatabase; inDirectory: boolean } | undefined {
  if (options.database === false) return undefined;
  if (options.database) return { open: options.database, inDirectory: false };
  // DATABASE_URL, when the user gives one, wins (PostgreSQL or another SQLite file).
  if (process.env.DATABASE_URL) {
    return { open: (pool) => openReadModelDb(config, logger, pool), inDirectory: false };
  }
  const file = join(dir, EMBEDDED_DATABASE_FILE);
  return { open: () => ReadModelDb.sqlite(file), inDirectory: true };
}
