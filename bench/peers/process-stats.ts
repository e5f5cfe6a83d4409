/**
 * What each process of a benchmark round cost, read from /proc: CPU seconds (user + system)
 * spent during the round, and peak resident memory. Works for any process on the machine,
 * the Kafka broker and redis-server included, and only reads: nothing here signals a process.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat's times (100 on nearly every Linux). */
const TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds the process has used so far; NaN once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return NaN;
  }
}

/** A memory line of /proc/<pid>/status (VmRSS now, VmHWM the peak so far) in MB; NaN if gone. */
export function statusMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

/**
 * The pid of the process listening on a loopback TCP port, or undefined: how the benchmark
 * finds the broker and redis-server it talks to, whoever started them. Reads /proc/net/tcp*
 * for the listening socket's inode, then the fd links of each process for that socket.
 */
export function listenerPid(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is column 10.
      if (cols.length < 10 || cols[3] !== "0A") continue;
      if (parseInt(cols[1]!.split(":")[1]!, 16) === port) inodes.add(`socket:[${cols[9]}]`);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (inodes.has(readlinkSync(`/proc/${entry}/fd/${fd}`))) return Number(entry);
      } catch {
        // The fd closed meanwhile.
      }
    }
  }
  return undefined;
}

export interface Watched {
  name: string;
  pid: number;
  /**
   * Started for this round: its lifetime peak (VmHWM) is the round's. For a long-lived
   * process (the broker, a shared redis-server) only the sampled RSS during the round counts.
   */
  fresh: boolean;
}

export interface ProcessCost {
  name: string;
  pid: number;
  cpuSeconds: number;
  peakRssMb: number;
}

/**
 * Samples the watched processes' RSS while a round runs and takes their CPU times at its
 * start and end. Sampling every 200 ms costs the benchmark's process a few /proc reads.
 */
export class ProcessSampler {
  private readonly cpuAtStart = new Map<number, number>();
  private readonly cpuLast = new Map<number, number>();
  private readonly peak = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly watched: readonly Watched[]) {}

  start(intervalMs = 200): void {
    for (const w of this.watched) this.cpuAtStart.set(w.pid, cpuSeconds(w.pid));
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Call before any watched process is stopped: a process that is gone has no /proc entry. */
  stop(): ProcessCost[] {
    clearInterval(this.timer);
    this.sample();
    return this.watched.map((w) => {
      const hwm = w.fresh ? statusMb(w.pid, "VmHWM") : NaN;
      const sampled = this.peak.get(w.pid) ?? NaN;
      return {
        name: w.name,
        pid: w.pid,
        cpuSeconds: (this.cpuLast.get(w.pid) ?? NaN) - (this.cpuAtStart.get(w.pid) ?? NaN),
        peakRssMb: Number.isNaN(hwm) ? sampled : Math.max(hwm, sampled),
      };
    });
  }

  private sample(): void {
    for (const w of this.watched) {
      const cpu = cpuSeconds(w.pid);
      if (!Number.isNaN(cpu)) this.cpuLast.set(w.pid, cpu);
      const rss = statusMb(w.pid, "VmRSS");
      if (!Number.isNaN(rss)) this.peak.set(w.pid, Math.max(this.peak.get(w.pid) ?? 0, rss));
    }
  }
}
