/**
 * The role processes of a chaos run, each a `weft start <chaos workflows> --roles <role>` child
 * (the compiled CLI, see paths.ts), supervised as an operator's process manager would: one
 * killed with kill -9 is started again after a delay; one that exits on its own is recorded (a
 * role must never die of a transient fault) and started again too.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ROOT, WEFT_CLI } from "./paths";
import { exitReason } from "./exit-reason";

/** What `weft start` prints on stderr once every role of the process runs. */
const READY_MARK = "Weft is running";

export type RoleName = "decider" | "worker" | "projector" | "api" | "decider,worker";

export interface RoleSpec {
  /** Unique in the run: decider-1, api-2, … */
  readonly name: string;
  readonly role: RoleName;
  /** The api role's port (kept across restarts so clients find it again). */
  readonly port?: number;
}

/** A role process that ended without being told to. */
export interface RoleExit {
  readonly at: number;
  readonly name: string;
  readonly pid: number;
  readonly code: number | null;
  readonly signal: string | null;
  /** The end of its log: why it went. */
  readonly lastLines: string;
}

export class RoleProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private expectingExit = false;
  private logOffset = 0;
  /** When the current process said it was ready; undefined while it starts or is down. */
  readyAt: number | undefined;
  startedAt = 0;
  starts = 0;

  constructor(
    readonly spec: RoleSpec,
    private readonly env: NodeJS.ProcessEnv,
    private readonly modulePath: string,
    readonly logPath: string,
    private readonly onExit: (proc: RoleProcess, exit: RoleExit | undefined) => void,
  ) {}

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null
      ? this.child.pid
      : undefined;
  }

  get running(): boolean {
    return this.pid !== undefined;
  }

  start(): void {
    if (this.running) return;
    const fd = openSync(this.logPath, "a");
    this.logOffset = statSync(this.logPath).size;
    this.startedAt = Date.now();
    this.readyAt = undefined;
    this.expectingExit = false;
    this.starts++;
    writeSync(fd, `\n=== chaos: start #${this.starts} at ${new Date().toISOString()}\n`);
    const env = { ...this.env, ...(this.spec.port ? { PORT: String(this.spec.port) } : {}) };
    const child = spawn(
      process.execPath,
      [WEFT_CLI, "start", ...(needsModule(this.spec.role) ? [this.modulePath] : [])].concat([
        "--roles",
        this.spec.role,
      ]),
      { cwd: ROOT, env, stdio: ["ignore", fd, fd] },
    );
    closeSync(fd);
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        const expected = this.expectingExit;
        this.readyAt = undefined;
        this.onExit(
          this,
          expected
            ? undefined
            : {
                at: Date.now(),
                name: this.spec.name,
                pid: child.pid ?? -1,
                code,
                signal,
                lastLines: this.tail(4000),
              },
        );
        resolve();
      });
    });
  }

  /** Resolves once the process says it is ready; rejects if it exits or takes longer. */
  async ready(timeoutMs: number): Promise<number> {
    const child = this.child;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.readyAt !== undefined) return this.readyAt;
      if (!this.running || this.child !== child) {
        throw new Error(`${this.spec.name} exited before it was ready:\n${this.tail(3000)}`);
      }
      if (this.readText(this.logOffset).includes(READY_MARK)) {
        this.readyAt = Date.now();
        return this.readyAt;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${this.spec.name} not ready after ${timeoutMs} ms:\n${this.tail(3000)}`);
  }

  /** A real crash: SIGKILL, no cleanup. Resolves once the process is gone. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.expectingExit = true;
    this.child?.kill("SIGKILL");
    await this.exited;
  }

  /** Sends a signal at once, without waiting (usable in a process 'exit' handler). */
  signalNow(signal: NodeJS.Signals): void {
    if (!this.running) return;
    this.expectingExit = true;
    this.child?.kill(signal);
  }

  /** A graceful stop (SIGTERM, the roles drain); SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.expectingExit = true;
    this.child?.kill("SIGTERM");
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** What the current process (or the last one) has logged so far. */
  currentLog(): string {
    return this.readText(this.logOffset);
  }

  private tail(bytes: number): string {
    const size = statSync(this.logPath).size;
    return this.readText(Math.max(this.logOffset, size - bytes));
  }

  private readText(from: number): string {
    const fd = openSync(this.logPath, "r");
    try {
      const size = statSync(this.logPath).size;
      const length = Math.max(0, size - from);
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, from);
      return buf.toString("utf8");
    } finally {
      closeSync(fd);
    }
  }
}

function needsModule(role: RoleName): boolean {
  return hostsRole(role, "decider") || hostsRole(role, "worker");
}

/** Whether a process started with `roles` runs `role`. */
export function hostsRole(roles: RoleName, role: "decider" | "worker"): boolean {
  return roles.split(",").includes(role);
}

/** Starts, restarts and stops the run's role processes; records the ones that died by themselves. */
export class Supervisor {
  readonly processes: RoleProcess[];
  readonly unexpectedExits: RoleExit[] = [];
  private stopping = false;

  constructor(
    specs: readonly RoleSpec[],
    env: NodeJS.ProcessEnv,
    modulePath: string,
    logDir: string,
    private readonly log: (line: string) => void,
    /** How long a supervisor waits before starting a process that died by itself. */
    private readonly restartDelayMs = 1000,
  ) {
    this.processes = specs.map(
      (spec) =>
        new RoleProcess(spec, env, modulePath, join(logDir, `${spec.name}.log`), (proc, exit) =>
          this.exited(proc, exit),
        ),
    );
  }

  byName(name: string): RoleProcess {
    const found = this.processes.find((p) => p.spec.name === name);
    if (!found) throw new Error(`no role process ${name}`);
    return found;
  }

  /** Starts every process and waits until all are ready. */
  async startAll(timeoutMs: number): Promise<void> {
    for (const p of this.processes) p.start();
    await Promise.all(this.processes.map((p) => p.ready(timeoutMs)));
  }

  /** Starts `proc` again and logs when it is ready (without waiting for it). */
  restart(proc: RoleProcess): void {
    if (this.stopping || proc.running) return;
    proc.start();
    const began = proc.startedAt;
    const pid = proc.pid;
    proc.ready(180_000).then(
      (at) => this.log(`${proc.spec.name} (pid ${pid}) ready ${at - began} ms after restart`),
      (err: unknown) => {
        // Killed by the harness, or dead by itself (exited() logs that): nothing more to say.
        if (proc.running && proc.pid === pid) {
          this.log(`${proc.spec.name} (pid ${pid}) not ready: ${String(err).slice(0, 300)}`);
        }
      },
    );
  }

  /** Last resort when the harness exits without its cleanup: SIGKILL whatever still runs. */
  killAllNow(): void {
    this.stopping = true;
    for (const p of this.processes) p.signalNow("SIGKILL");
  }

  /** No more restarts from here on (the run is ending). */
  halt(): void {
    this.stopping = true;
  }

  async stopAll(graceMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(this.processes.map((p) => p.stop(graceMs)));
  }

  private exited(proc: RoleProcess, exit: RoleExit | undefined): void {
    if (!exit || this.stopping) return;
    this.unexpectedExits.push(exit);
    this.log(
      `${exit.name} (pid ${exit.pid}) exited on its own (code ${exit.code}, signal ${exit.signal}): ${exitReason(exit.lastLines)}`,
    );
    setTimeout(() => this.restart(proc), this.restartDelayMs).unref();
  }
}
