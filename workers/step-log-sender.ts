import type { Logger } from "../core/logger";
import { stepLogCodec } from "../schemas/codec";
import type { StepLogRecord } from "../schemas/types";
import type { PortSender } from "../transport/port";
import type { StepLogSink } from "./step-log";

/**
 * Sends each attempt's log record to `<prefix>.step-logs`, keyed by workflow ID, without the
 * attempt waiting for it: a step's report never waits on its logs, and a record that cannot be
 * sent is a warning in the worker's log (the lines are there too), never a failed step. The
 * producer's own retries are all the retrying it gets: logs are not worth holding a task for.
 */
export class StepLogSender implements StepLogSink {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly producer: PortSender,
    private readonly topic: string,
  ) {}

  deliver(record: StepLogRecord, log: Logger): void {
    const sending = this.send(record).catch((err: unknown) => {
      log.warn(
        { err, lines: record.lines.length, dropped: record.dropped },
        "could not send the step's log lines; they are in this worker's log only",
      );
    });
    this.pending.add(sending);
    void sending.finally(() => this.pending.delete(sending));
  }

  /** Waits for the records in flight, at most `timeoutMs`; before the producer disconnects. */
  async flush(timeoutMs: number): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.pending),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  private async send(record: StepLogRecord): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      messages: [
        {
          key: record.workflowId,
          value: stepLogCodec.encode(record),
          headers: { ...stepLogCodec.headers },
        },
      ],
    });
  }
}
