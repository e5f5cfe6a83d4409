/**
 * Progress of a long wait on stderr: one line rewritten in place every second on a terminal;
 * elsewhere (CI logs, pipes) a plain line every 5 s while the wait lasts.
 */
import { cut } from "./tables";

export const TTY_REFRESH_MS = 1000;
export const LOG_INTERVAL_MS = 5000;

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

export class Progress {
  private readonly startedAt = Date.now();
  private state: () => string = () => "";
  /** A log's first line comes after LOG_INTERVAL_MS: a short wait prints none. */
  private lastLoggedAt = this.startedAt;
  private drawn = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly label: string,
    private readonly stream: ProgressStream = process.stderr,
  ) {}

  /** Starts showing progress; `state` says what to show after the elapsed time, at each redraw. */
  start(state: () => string): this {
    this.state = state;
    this.render();
    this.timer = setInterval(() => this.render(), TTY_REFRESH_MS);
    this.timer.unref();
    return this;
  }

  /** The state changed: a terminal shows it at once, a log with its next line. */
  refresh(): void {
    if (this.stream.isTTY && this.timer) this.render();
  }

  /** Stops and clears the line, so what is printed next starts clean. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.stream.isTTY && this.drawn) this.stream.write("\r\x1b[2K");
    this.drawn = false;
  }

  private line(): string {
    const elapsed = Math.floor((Date.now() - this.startedAt) / 1000);
    return `${this.label}: ${elapsed}s, ${this.state()}`;
  }

  private render(): void {
    if (this.stream.isTTY) {
      const width = (this.stream.columns ?? 80) - 1;
      this.stream.write(`\r\x1b[2K${cut(this.line(), width)}`);
      this.drawn = true;
      return;
    }
    const now = Date.now();
    if (now - this.lastLoggedAt < LOG_INTERVAL_MS) return;
    this.lastLoggedAt = now;
    this.stream.write(`${this.line()}\n`);
  }
}
