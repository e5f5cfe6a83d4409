/**
 * Weft under PM2 (https://pm2.keymetrics.io): each role its own app, so each scales and
 * restarts on its own. Copy this file beside your project's node_modules, point WEFT_MODULE at
 * the compiled module that exports your workflows and steps, then `pm2 start
 * ecosystem.config.cjs`. KAFKA_BROKERS, REDIS_URL and DATABASE_URL come from the environment
 * PM2 runs in (or add them to `env` below).
 *
 * Without PM2, `weft start <module> --roles … --processes N` supervises N children of one role
 * mix the same way (see docs/operations.md, "Running several processes").
 */
const WEFT = "./node_modules/@weft-engine/weft/bin/weft.js";
const MODULE = process.env.WEFT_MODULE ?? "./dist/workflows.js";

/**
 * PM2 stops an app with SIGINT, then SIGKILL after kill_timeout. Weft drains on SIGINT: the API
 * stops taking requests, workers finish their running steps (15 s, then 5 s after aborting
 * them) and report them, deciders commit what they accepted. 30 s is also the default
 * --drain-timeout of `weft start --processes`.
 */
const DRAIN_MS = 30_000;

/** What every Weft app shares: graceful start and stop, and a backoff on crash loops. */
const common = {
  script: WEFT,
  // `weft start` sends "ready" once its roles run; PM2 counts the app online from then.
  wait_ready: true,
  listen_timeout: 60_000,
  kill_timeout: DRAIN_MS,
  autorestart: true,
  // PM2 grows this delay on each crash in a row and resets it once the app stays up.
  exp_backoff_restart_delay: 1000,
};

/**
 * `count` apps of one role, each with its own /metrics port (firstPort, firstPort + 1, …).
 * One app per instance rather than `instances: count` with `increment_var`: PM2 does not keep
 * the incremented value across `pm2 reload` / stop and start (Unitech/pm2#4502), and two
 * instances on one metrics port would fail to start. Deciders: up to the partitions of
 * <prefix>.commands (WEFT_COMMAND_PARTITIONS, default 4); workers: as many as you like.
 */
function perInstance(role, count, firstPort, args) {
  return Array.from({ length: count }, (_, i) => ({
    ...common,
    name: `weft-${role}-${i}`,
    args,
    exec_mode: "fork",
    instances: 1,
    env: { WEFT_METRICS_PORT: String(firstPort + i) },
  }));
}

/**
 * The trigger role consumes the module's Kafka triggers (defineTrigger, docs/triggers.md) and
 * refuses to start without one: set WEFT_KAFKA_TRIGGERS=1 when the module defines some. One
 * app is enough to begin with; more share the triggers' topic partitions.
 */
const triggerApps =
  process.env.WEFT_KAFKA_TRIGGERS === "1"
    ? perInstance("trigger", 1, 9490, ["start", MODULE, "--roles", "trigger"])
    : [];

module.exports = {
  apps: [
    {
      ...common,
      name: "weft-api",
      args: ["start", "--roles", "api"],
      // PM2's cluster mode is node:cluster: the instances share PORT, and each serves its own
      // /metrics there (a scrape reaches one of them).
      exec_mode: "cluster",
      instances: 2,
      env: { PORT: "8080" },
    },
    {
      ...common,
      name: "weft-projector",
      args: ["start", "--roles", "projector"],
      exec_mode: "fork",
      instances: 1,
      env: { WEFT_METRICS_PORT: "9464" },
    },
    ...perInstance("decider", 2, 9470, ["start", MODULE, "--roles", "decider"]),
    ...perInstance("worker", 2, 9480, [
      "start",
      MODULE,
      "--roles",
      "worker",
      "--concurrency",
      "32",
    ]),
    ...triggerApps,
  ],
};
