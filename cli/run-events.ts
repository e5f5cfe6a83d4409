/**
 * What `weft dev` shows a person at a terminal while runs go: one short line per history
 * event, as the decider records it, e.g.
 *
 *   12:04:05.120  signup-1  started userSignupFlow with {"email":"ada@example.com"}
 *   12:04:05.160  signup-1  step sendWelcomeEmail #1 completed: {"sent":true}
 *   12:04:05.161  signup-1  sleeping 5.0 s (timer #2)
 *
 * `RunEventLines` is the pure part (events in, lines out); `followRunEvents` feeds it from
 * `weft.history`, from the end, in a throw-away consumer group that never commits.
 */
import { topics, type WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { historyCodec } from "../schemas/codec";
import type { EventBody, HistoryEvent } from "../schemas/types";
import { topicReader } from "../transport/topic-reader";
import type { KafkaPort } from "../transport/port";
import { clockTime, type Paint } from "./log-output";
import { cut, duration, oneLine } from "./tables";

/** What a line needs to remember of an open run: its start and its steps' names. */
interface OpenRun {
  startedAt: number | undefined;
  steps: Map<number, string>;
}

const plain: Paint = (_style, text) => text;

/** A JSON text payload, compact and cut. */
function payload(text: string, max = 80): string {
  return cut(oneLine(text), max);
}

/** `: <reason>` of a cancel, cut, or nothing without one. */
function because(reason: string | null): string {
  return reason ? `: ${cut(oneLine(reason), 160)}` : "";
}

/**
 * Turns history events into lines. It remembers, per open run, when it started and the names
 * of its steps (a step's later events carry only its sequence number) and forgets a run when
 * it closes, so what it holds follows the open runs. A run that was open before it began
 * shows its steps by number until they are scheduled again.
 */
export class RunEventLines {
  private readonly open = new Map<string, OpenRun>();

  constructor(private readonly paint: Paint = plain) {}

  line(event: HistoryEvent): string {
    const { paint } = this;
    const what = this.describe(event.workflowId, event.at, event.body);
    return `${paint("dim", clockTime(event.at))}  ${paint("cyan", event.workflowId)}  ${what}`;
  }

  /** Runs it holds something for (for tests). */
  get openRuns(): number {
    return this.open.size;
  }

  private run(workflowId: string): OpenRun {
    let run = this.open.get(workflowId);
    if (!run) {
      run = { startedAt: undefined, steps: new Map() };
      this.open.set(workflowId, run);
    }
    return run;
  }

  private step(workflowId: string, stepSeq: number): string {
    const name = this.open.get(workflowId)?.steps.get(stepSeq);
    return name ? `step ${name} #${stepSeq}` : `step #${stepSeq}`;
  }

  /** ` in 5.0 s` since the run started, when this saw it start; then forgets the run. */
  private close(workflowId: string, at: number): string {
    const startedAt = this.open.get(workflowId)?.startedAt;
    this.open.delete(workflowId);
    return startedAt === undefined ? "" : ` in ${duration(at - startedAt)}`;
  }

  private describe(workflowId: string, at: number, body: EventBody): string {
    const { paint } = this;
    const attempt = (n: number) => (n > 1 ? ` (attempt ${n})` : "");
    switch (body.type) {
      case "WorkflowStarted":
        this.run(workflowId).startedAt = at;
        return `started ${paint("bold", body.workflowType)} with ${payload(body.input)}`;
      case "StepScheduled":
        this.run(workflowId).steps.set(body.stepSeq, body.stepName);
        return `${this.step(workflowId, body.stepSeq)} queued on ${body.taskQueue}${attempt(body.attempt)}`;
      case "StepStarted":
        return `${this.step(workflowId, body.stepSeq)} running on ${body.workerId}${attempt(body.attempt)}`;
      case "StepCompleted":
        return `${this.step(workflowId, body.stepSeq)} completed: ${payload(body.result)}`;
      case "StepFailed":
        return `${this.step(workflowId, body.stepSeq)} ${paint("red", "failed")}${attempt(body.attempt)}: ${cut(oneLine(body.error.message), 160)}${body.willRetry ? " (it will be retried)" : ""}`;
      case "StepRetryScheduled":
        return `${this.step(workflowId, body.stepSeq)} retries in ${duration(body.delayMs)} (attempt ${body.nextAttempt})`;
      case "StepResultIgnored":
        return `${this.step(workflowId, body.stepSeq)} result of attempt ${body.attempt} ignored: ${body.reason}`;
      case "TimerStarted":
        return `sleeping ${duration(body.durationMs)} (timer #${body.timerSeq})`;
      case "TimerFired":
        return `timer #${body.timerSeq} fired`;
      case "SignalWaitStarted":
        return `waiting for signal ${JSON.stringify(body.signalName)}${body.timeoutMs === null ? "" : ` for up to ${duration(body.timeoutMs)}`}`;
      case "SignalWaitTimedOut":
        return `no signal ${JSON.stringify(body.signalName)} came in time: the wait timed out`;
      case "SignalReceived":
        return `signal ${JSON.stringify(body.signalName)} received: ${payload(body.payload)}`;
      case "WorkflowCompleted":
        return `${paint("green", "completed")}${this.close(workflowId, at)}: ${payload(body.result, 200)}`;
      case "WorkflowFailed":
        return `${paint("red", "failed")}${this.close(workflowId, at)}: ${cut(oneLine(body.error.message), 200)}`;
      case "WorkflowCancelled":
        return `${paint("yellow", "cancelled")}${this.close(workflowId, at)}${body.reason ? `: ${cut(oneLine(body.reason), 200)}` : ""}`;
      case "WorkflowContinuedAsNew":
        return `${paint("green", "continued as a new run")}${this.close(workflowId, at)} with ${payload(body.input)}`;
      case "WorkflowBlocked":
        return `${paint("red", "blocked")} (${body.code}): ${cut(oneLine(body.reason), 200)}`;
      case "StateUpdated":
        return `state is now ${payload(body.state)}`;
      case "WorkflowCancelRequested":
        return `${paint("yellow", "cancel requested")}${body.reason ? `: ${cut(oneLine(body.reason), 200)}` : ""} (the code may clean up first)`;
      case "StepHeartbeatRecorded":
        return `${this.step(workflowId, body.stepSeq)} heartbeat${attempt(body.attempt)}${body.details === null ? "" : `: ${payload(body.details)}`}`;
      case "PatchMarked":
        return `took patch ${JSON.stringify(body.patchId)}${body.deprecated ? " (deprecated)" : ""}`;
      case "ChildWorkflowScheduled":
        return `started child ${paint("bold", body.workflowType)} ${paint("cyan", body.childWorkflowId)} (#${body.childSeq}) with ${payload(body.input)}`;
      case "ChildWorkflowCompleted":
        return `child ${paint("cyan", body.childWorkflowId)} (#${body.childSeq}) completed: ${payload(body.result)}`;
      case "ChildWorkflowFailed":
        return `child ${paint("cyan", body.childWorkflowId)} (#${body.childSeq}) ${paint("red", body.status)}: ${cut(oneLine(body.error.message), 160)}`;
      case "StepCancelled":
        return `${this.step(workflowId, body.stepSeq)} ${paint("yellow", "cancelled")} with its scope${attempt(body.attempt)}${because(body.reason)}`;
      case "TimerCancelled":
        return `timer #${body.timerSeq} ${paint("yellow", "cancelled")} with its scope${because(body.reason)}`;
      case "SignalWaitCancelled":
        return `wait for signal ${JSON.stringify(body.signalName)} ${paint("yellow", "cancelled")} with its scope${because(body.reason)}`;
      case "ChildWorkflowCancelRequested":
        return `child ${paint("cyan", body.childWorkflowId)} (#${body.childSeq}) ${paint("yellow", "cancelled")} with its scope${because(body.reason)}`;
    }
  }
}

export interface RunEventFeed {
  stop(): Promise<void>;
}

/**
 * Calls `onEvent` with every event committed to `weft.history` from now on. Resolves once
 * it reads (its consumer joined), so nothing recorded after that is missed. An undecodable
 * record is skipped (the projector sends it to the DLQ; this is only a view).
 */
export async function followRunEvents(options: {
  kafka: KafkaPort;
  config: WeftConfig;
  logger: Logger;
  onEvent: (event: HistoryEvent) => void;
}): Promise<RunEventFeed> {
  const { kafka, config, logger, onEvent } = options;
  const topic = topics.history(config);
  const read = await topicReader(kafka).follow({
    topic,
    from: "end",
    onBatch: ({ messages }) => {
      for (const message of messages) {
        let event: HistoryEvent;
        try {
          event = historyCodec.decode(message.value, message.headers);
        } catch (err) {
          logger.debug({ err, offset: message.offset }, "run feed: undecodable history record");
          continue;
        }
        onEvent(event);
      }
    },
  });
  return { stop: () => read.close() };
}
