/**
 * The supervisor of `weft start --processes N`: forks N children with node:cluster, each
 * running the same roles; forks a child again, with capped exponential backoff, when it exits
 * on its own; on `stop(signal)` passes the signal to every child for its graceful drain, kills
 * those still running at the drain deadline, and settles `exited` with the exit code once all
 * are gone. It logs every child's start, readiness and exit.
 *
 * node:cluster, not child_process: children that listen on the same port (the api role's
 * PORT) share one socket the supervisor holds and hands each connection to one child, so N
 * API children need no port of their own and no balancer in front.
 *
 * A child that exits with code 2 before it was ready failed on its configuration (the CLI's
 * exit code for a coded Weft error, e.g. INVALID_CONFIG or SCHEMA_MISMATCH): forking it again
 * cannot help, so the supervisor stops every child and exits 2 too.
 */
import cluster, { type ClusterSettings, type Worker } from "node:cluster";
import type { Logger } from "../../core/logger";
import { WORKER_DRAIN_MS } from "../../workers/drain";
import { isChildReady, type ChildReady, type SupervisorState } from "./protocol";
import { DEFAULT_RESTART_BACKOFF, nextRestart, type RestartBackoff } from "./restart-backoff";

/**
 * How long children get to drain after a stop signal: a worker's longest wait for its running
 * steps, and 10 s to commit, close its consumers and publish its goodbye.
 */
export const DEFAULT_DRAIN_TIMEOUT_MS = WORKER_DRAIN_MS + 10_000;

/** The CLI's exit code for a coded Weft error (see cli/output.ts `fail`). */
const CONFIGURATION_EXIT_CODE = 2;

export interface SupervisorOptions {
  /** Children to keep running. */
  readonly processes: number;
  readonly logger: Logger;
  /** How long children get to drain after a stop signal before they are killed. */
  readonly drainTimeoutMs: number;
  readonly backoff?: RestartBackoff;
  /**
   * What each child runs (node:cluster's `exec`, `args`, `execArgv`): by default this
   * process's own script, arguments and Node options, so a child runs the same command.
   */
  readonly child?: Pick<ClusterSettings, "exec" | "args" | "execArgv">;
  /** Environment of the child in `index`, over the supervisor's own. */
  readonly childEnv?: (index: number) => Record<string, string>;
  /** Called once, when every child has been ready at least once: with the first one's report. */
  readonly onReady?: (ready: ChildReady) => void;
}

/** One of the N places a child runs in; a restarted child takes its predecessor's slot. */
interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  startedAt: number;
  ready: boolean;
  /** Crashes in a row: drives the restart backoff. */
  crashes: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** Its first ready report, for `onReady`. */
  firstReady: ChildReady | undefined;
}

interface Stopping {
  readonly signal: NodeJS.Signals;
  readonly deadline: NodeJS.Timeout;
}

export class Supervisor {
  private readonly log: Logger;
  private readonly backoff: RestartBackoff;
  private readonly slots: Slot[];
  private restarts = 0;
  private stopping: Stopping | undefined;
  private exitCode = 0;
  private announced = false;
  private settle: ((code: number) => void) | undefined;
  /** Settles with the supervisor's exit code once it stopped and every child is gone. */
  readonly exited: Promise<number>;

  constructor(private readonly options: SupervisorOptions) {
    this.log = options.logger.child({ component: "supervisor" });
    this.backoff = options.backoff ?? DEFAULT_RESTART_BACKOFF;
    this.slots = Array.from({ length: options.processes }, (_, index) => ({
      index,
      worker: undefined,
      startedAt: 0,
      ready: false,
      crashes: 0,
      restartTimer: undefined,
      firstReady: undefined,
    }));
    this.exited = new Promise((resolve) => (this.settle = resolve));
  }

  /** Children running now. */
  get live(): number {
    return this.slots.filter((s) => s.worker).length;
  }

  /** Pids of the children running now, by slot (undefined for a slot waiting to restart). */
  get pids(): (number | undefined)[] {
    return this.slots.map((s) => s.worker?.process.pid);
  }

  /** Forks every child. */
  start(): void {
    const { exec, args, execArgv } = this.options.child ?? {};
    const settings: ClusterSettings = {};
    if (exec !== undefined) settings.exec = exec;
    if (args !== undefined) settings.args = args;
    if (execArgv !== undefined) settings.execArgv = execArgv;
    cluster.setupPrimary(settings);
    this.log.info(
      { processes: this.options.processes, drainTimeoutMs: this.options.drainTimeoutMs },
      "supervisor starting its children",
    );
    for (const slot of this.slots) this.fork(slot);
  }

  /**
   * Passes `signal` to every child for its graceful drain and kills the children still running
   * after the drain timeout. A second call while stopping kills them at once.
   */
  stop(signal: NodeJS.Signals): void {
    if (this.stopping) {
      this.log.warn({ signal }, "second stop signal: killing the children now");
      this.killAll();
      return;
    }
    const deadline = setTimeout(() => {
      this.log.warn(
        { drainTimeoutMs: this.options.drainTimeoutMs, pids: this.pids.filter(Boolean) },
        "children still running at the drain deadline: killing them",
      );
      this.killAll();
    }, this.options.drainTimeoutMs);
    this.stopping = { signal, deadline };
    this.log.info({ signal, children: this.live }, "stopping: passing the signal to the children");
    for (const slot of this.slots) {
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      slot.worker?.process.kill(signal);
    }
    this.settleIfDone();
  }

  private fork(slot: Slot): void {
    slot.restartTimer = undefined;
    const worker = cluster.fork(this.options.childEnv?.(slot.index) ?? {});
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.ready = false;
    const childPid = worker.process.pid;
    this.log.info({ child: slot.index, childPid }, "child started");
    worker.on("message", (message: unknown) => {
      if (isChildReady(message)) this.onReady(slot, worker, message);
    });
    // A send to a child that is exiting fails; its exit is what matters, and is handled below.
    worker.on("error", (err: unknown) =>
      this.log.debug({ err, child: slot.index, childPid }, "child channel error"),
    );
    worker.once("exit", (code: number | null, signal: NodeJS.Signals | null) =>
      this.onExit(slot, worker, code, signal),
    );
    this.publish();
  }

  private onReady(slot: Slot, worker: Worker, ready: ChildReady): void {
    if (slot.worker !== worker) return;
    slot.ready = true;
    slot.firstReady ??= ready;
    this.log.info(
      {
        child: slot.index,
        childPid: worker.process.pid,
        processId: ready.processId,
        apiAddress: ready.apiAddress,
        metricsAddress: ready.metricsAddress,
      },
      "child ready",
    );
    this.send(worker, this.state());
    if (!this.announced && this.slots.every((s) => s.firstReady)) {
      this.announced = true;
      this.log.info({ children: this.live }, "every child is ready");
      this.options.onReady?.(this.slots[0]!.firstReady!);
    }
  }

  private onExit(
    slot: Slot,
    worker: Worker,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    slot.worker = undefined;
    const wasReady = slot.ready;
    slot.ready = false;
    const exit = {
      child: slot.index,
      childPid: worker.process.pid,
      code,
      signal,
      upMs: Date.now() - slot.startedAt,
    };
    if (this.stopping) {
      // A child stopped before its roles ran dies of the signal itself: nothing to drain.
      const clean = code === 0 || (signal === this.stopping.signal && !wasReady);
      if (!clean) this.exitCode = Math.max(this.exitCode, 1);
      (clean ? this.log.info : this.log.warn).call(this.log, exit, "child exited");
      this.settleIfDone();
      this.publish();
      return;
    }
    if (code === CONFIGURATION_EXIT_CODE && !wasReady) {
      this.log.error(
        exit,
        "child failed on its configuration before it was ready (its error is above): stopping every child",
      );
      this.exitCode = CONFIGURATION_EXIT_CODE;
      this.stop("SIGTERM");
      return;
    }
    const { crashes, delayMs } = nextRestart(this.backoff, slot.crashes, exit.upMs);
    slot.crashes = crashes;
    this.log.warn({ ...exit, restartInMs: delayMs, crashesInRow: crashes }, "child exited");
    slot.restartTimer = setTimeout(() => {
      this.restarts++;
      this.fork(slot);
    }, delayMs);
    this.publish();
  }

  private killAll(): void {
    this.exitCode = Math.max(this.exitCode, 1);
    for (const slot of this.slots) slot.worker?.process.kill("SIGKILL");
  }

  private settleIfDone(): void {
    if (!this.stopping || this.live > 0) return;
    clearTimeout(this.stopping.deadline);
    this.log.info({ exitCode: this.exitCode, restarts: this.restarts }, "every child is gone");
    this.settle?.(this.exitCode);
    this.settle = undefined;
  }

  private state(): SupervisorState {
    return { weft: "supervisor-state", children: this.live, restarts: this.restarts };
  }

  /** The counts, to every ready child (the others get them when they report ready). */
  private publish(): void {
    const state = this.state();
    for (const slot of this.slots) if (slot.worker && slot.ready) this.send(slot.worker, state);
  }

  private send(worker: Worker, message: SupervisorState): void {
    if (!worker.isConnected()) return;
    worker.send(message, undefined, (err: Error | null) => {
      if (err) this.log.debug({ err, childPid: worker.process.pid }, "could not update a child");
    });
  }
}
