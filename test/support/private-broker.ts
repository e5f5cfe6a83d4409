/**
 * A single Kafka broker of a test's own (infra/infra.sh in a private state folder, on ports
 * of its own), for tests that need a broker that is not there yet, or goes away: the shared
 * broker is never stopped. The Kafka jars are linked from the shared infra folder when it has
 * them, so nothing is downloaded again.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./tcp-proxy";

// The repository: two folders up from sources, three from dist/ (benchmarks run compiled).
const ROOT = join(__dirname, "..", "..", ...(__filename.endsWith(".js") ? [".."] : []));
const INFRA = join(ROOT, "infra", "infra.sh");
const run = promisify(execFile);

export class PrivateBroker {
  private constructor(
    readonly port: number,
    private readonly controllerPort: number,
    private readonly dir: string,
  ) {}

  /** Reserves ports and a state folder; nothing runs until `start`. */
  static async reserve(): Promise<PrivateBroker> {
    const dir = mkdtempSync(join(tmpdir(), "weft-broker-"));
    const shared = join(process.env.WEFT_INFRA_DIR ?? join(ROOT, ".infra"), "kafka", "libs");
    if (existsSync(join(shared, ".complete"))) {
      mkdirSync(join(dir, "kafka"), { recursive: true });
      symlinkSync(shared, join(dir, "kafka", "libs"));
    }
    return new PrivateBroker(await freePort(), await freePort(), dir);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts the broker and resolves once it answers metadata requests. */
  async start(): Promise<void> {
    await this.infra("up", "--only", "kafka");
  }

  /**
   * Freezes the broker's process (SIGSTOP), as a long pause or a stalled disk would: its
   * connections stay open and nothing is answered until `thaw`.
   */
  freeze(): void {
    process.kill(this.pid(), "SIGSTOP");
  }

  thaw(): void {
    process.kill(this.pid(), "SIGCONT");
  }

  /** Stops it (if it runs) and removes its data. */
  async destroy(): Promise<void> {
    // A frozen broker would not hear the stop.
    try {
      this.thaw();
    } catch {
      // Never started, or already gone.
    }
    await this.infra("down", "--only", "kafka").catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private pid(): number {
    return Number(readFileSync(join(this.dir, "kafka", "single", "kafka.pid"), "utf8").trim());
  }

  private async infra(...args: string[]): Promise<void> {
    await run("bash", [INFRA, ...args], {
      env: {
        ...process.env,
        WEFT_INFRA_DIR: this.dir,
        WEFT_KAFKA_PORT: String(this.port),
        WEFT_KAFKA_CONTROLLER_PORT: String(this.controllerPort),
      },
      timeout: 180_000,
    });
  }
}
