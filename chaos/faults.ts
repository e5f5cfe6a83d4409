/**
 * The faults of a chaos run: kill -9 of a random role process every 5–10 s, started again by
 * the supervisor 1–3 s later; kill -9 of one broker about every 60 s, restarted 10–20 s later.
 * Choices come from the seed; every kill is logged with its time. Before a decider is killed
 * the group coordinator is asked which command partitions it owns (for the failover figures).
 */
import type { Admin, Kafka } from "kafkajs";
import { assignedPartitions } from "../adapters/kafka/group-assignment";
import type { KillRecord } from "./figures";
import { brokerKill, brokerStart } from "./infra";
import type { Random } from "./random";
import { hostsRole, type RoleProcess, type Supervisor } from "./roles";

const CLUSTER_SIZE = 3;

export class Faults {
  readonly kills: KillRecord[] = [];
  private readonly restarts = new Map<RoleProcess, NodeJS.Timeout>();
  private admin: Admin | undefined;
  /** The broker down now (it is always started again before the next one is killed). */
  private brokerDown: Promise<void> | undefined;

  constructor(
    private readonly supervisor: Supervisor,
    private readonly kafka: Kafka,
    private readonly deciderGroup: string,
    private readonly commandsTopic: string,
    private readonly rng: { roles: Random; brokers: Random },
    private readonly log: (line: string) => void,
  ) {}

  /** Kills role processes until `until` or abort. */
  async killRoles(until: number, abort: AbortSignal): Promise<void> {
    const rng = this.rng.roles;
    for (;;) {
      const pause = rng.between(5000, 10_000);
      await sleep(Math.min(pause, until - Date.now()), abort);
      if (Date.now() >= until || abort.aborted) return;
      // A process that runs and said it is ready: one still starting has no work to lose yet.
      const candidates = this.supervisor.processes.filter(
        (p) => p.running && p.readyAt !== undefined,
      );
      if (candidates.length === 0) continue;
      const victim = rng.pick(candidates);
      const restartDelay = rng.between(1000, 3000);
      const pid = victim.pid!;
      const partitions = hostsRole(victim.spec.role, "decider")
        ? ((await this.ownedPartitions(pid)) ?? partitionsFromLog(victim.currentLog()))
        : undefined;
      const at = Date.now();
      await victim.kill9();
      const kill: KillRecord = {
        at,
        kind: "role",
        target: victim.spec.name,
        pid,
        ...(partitions !== undefined ? { partitions } : {}),
      };
      this.kills.push(kill);
      this.log(
        `KILL -9 ${victim.spec.name} pid ${pid}` +
          (partitions === undefined
            ? ""
            : partitions === null
              ? " (partitions unknown)"
              : ` (owned command partitions [${partitions.join(",")}])`) +
          `; restart in ${(restartDelay / 1000).toFixed(1)} s`,
      );
      this.restarts.set(
        victim,
        setTimeout(() => {
          this.restarts.delete(victim);
          kill.restartedAt = Date.now();
          this.supervisor.restart(victim);
        }, restartDelay),
      );
    }
  }

  /** Kills one broker about every 60 s until `until` or abort; always starts it again. */
  async killBrokers(until: number, abort: AbortSignal): Promise<void> {
    const rng = this.rng.brokers;
    let next = Date.now() + rng.between(20_000, 40_000);
    for (;;) {
      await sleep(Math.min(next, until) - Date.now(), abort);
      if (Date.now() >= until || abort.aborted) return;
      const n = rng.int(1, CLUSTER_SIZE);
      const downFor = rng.between(10_000, 20_000);
      next += rng.between(50_000, 70_000);
      const at = Date.now();
      try {
        await brokerKill(n);
      } catch (err) {
        this.log(`broker-kill ${n} failed: ${String(err).slice(0, 300)}`);
        continue;
      }
      const kill: KillRecord = { at, kind: "broker", target: `broker-${n}` };
      this.kills.push(kill);
      this.log(`KILL -9 broker ${n}; restart in ${(downFor / 1000).toFixed(1)} s`);
      this.brokerDown = (async () => {
        await sleep(downFor, abort);
        await this.restartBroker(n, kill);
      })();
      await this.brokerDown;
      this.brokerDown = undefined;
    }
  }

  /**
   * Everything killed comes back now: a broker that is down, and (unless `roles` is false, as
   * when the run is being torn down) role processes waiting for their restart.
   */
  async restoreAll(roles = true): Promise<void> {
    for (const [proc, timer] of this.restarts) {
      clearTimeout(timer);
      if (roles) this.supervisor.restart(proc);
    }
    this.restarts.clear();
    if (roles) {
      for (const proc of this.supervisor.processes)
        if (!proc.running) this.supervisor.restart(proc);
    }
    await this.brokerDown;
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
  }

  private async restartBroker(n: number, kill: KillRecord): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await brokerStart(n);
        kill.restartedAt = Date.now();
        this.log(
          `broker ${n} started again, ready ${((kill.restartedAt - kill.at) / 1000).toFixed(1)} s after its kill`,
        );
        return;
      } catch (err) {
        this.log(`broker-start ${n} failed (try ${attempt}): ${String(err).slice(0, 300)}`);
        if (attempt >= 3) throw err;
      }
    }
  }

  /**
   * The command partitions the decider with this pid owns, as the group coordinator says
   * (its kafkajs client ID ends with its pid); null when the group cannot tell in 3 s.
   */
  private async ownedPartitions(pid: number): Promise<number[] | null> {
    try {
      this.admin ??= this.kafka.admin();
      await this.admin.connect();
      const described = this.admin.describeGroups([this.deciderGroup]);
      const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), 3000));
      const result = await Promise.race([described, timeout]);
      if (!result) return null;
      const member = result.groups[0]?.members.find((m) => m.clientId.endsWith(`-${pid}`));
      if (!member) return [];
      return assignedPartitions(member, this.commandsTopic);
    } catch (err) {
      this.log(`could not describe the decider group: ${String(err).slice(0, 200)}`);
      return null;
    }
  }
}

/**
 * The partitions a decider's log says it holds (assigned and not revoked since it started):
 * the fallback when the group coordinator cannot answer, as during a broker kill.
 */
export function partitionsFromLog(log: string): number[] | null {
  const held = new Set<number>();
  let seen = false;
  for (const line of log.split("\n")) {
    if (!line.startsWith("{")) continue;
    let entry: { msg?: unknown; partition?: unknown };
    try {
      entry = JSON.parse(line) as { msg?: unknown; partition?: unknown };
    } catch {
      continue;
    }
    if (typeof entry.partition !== "number") continue;
    if (entry.msg === "partition assigned") {
      held.add(entry.partition);
      seen = true;
    } else if (entry.msg === "partition revoked") held.delete(entry.partition);
  }
  return seen ? [...held].sort((a, b) => a - b) : null;
}

/** Sleeps `ms`, or less when `abort` fires. */
function sleep(ms: number, abort: AbortSignal): Promise<void> {
  if (ms <= 0 || abort.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      abort.removeEventListener("abort", done);
      resolve();
    }
    abort.addEventListener("abort", done);
  });
}
