/**
 * The two steps a schedule's run calls (workflow/schedules/schedule-workflow.ts): start the run
 * of a tick, and tell whether a run is still open (for the `skip` and `buffer` overlap
 * policies). Workers host them when schedules are on.
 *
 * Starting is idempotent by construction: the tick's run has a workflow ID of its own and the
 * default ID-reuse policy (`rejectDuplicate`), so a start sent again (a retried attempt, a
 * worker that died after sending) is a duplicate the decider drops, whether the first run is
 * still open or has closed.
 */
import type { WeftConfig } from "../core/config";
import { topics } from "../core/config";
import type { Logger } from "../core/logger";
import type { HistoryEvent } from "../schemas/types";
import { readHistoryPartitions } from "../transport/history-reader";
import { withAdmin } from "../transport/topics";
import { partitionCount, partitionForKey } from "../transport/partitioning";
import type { KafkaPort } from "../transport/port";
import { defineStep, type StepDefinition } from "../workflow/definitions";
import {
  RUN_OPEN_STEP,
  START_RUN_STEP,
  type RunOpenInput,
  type StartRunInput,
} from "../workflow/schedules/schedule-workflow";
import type { CommandProducer } from "./command-producer";
import { runOfHistory } from "./run-check";
import { startWorkflowCommand } from "./workflow-commands";

/** What the steps need from the process that hosts them. */
export interface ScheduleStepPorts {
  /** Sends a command to `weft.commands` durably. */
  send: CommandProducer["send"];
  /** Whether the run is open; a run history does not show yet (its start not applied) is. */
  isOpen(workflowId: string): Promise<boolean>;
}

export function scheduleSteps(ports: ScheduleStepPorts): StepDefinition[] {
  const startRun = defineStep(START_RUN_STEP, async (input: StartRunInput) => {
    await ports.send(
      startWorkflowCommand(input.workflowType, {
        workflowId: input.workflowId,
        input: input.input,
      }),
    );
    return { workflowId: input.workflowId };
  });
  const runOpen = defineStep(RUN_OPEN_STEP, async (input: RunOpenInput) => ({
    open: await ports.isOpen(input.workflowId),
  }));
  return [startRun as StepDefinition, runOpen as StepDefinition];
}

/**
 * Whether a run is open, from `weft.history` as the deciders committed it: reads the one
 * partition that holds the run's events, up to its end now. It costs a read of that partition,
 * so the schedule asks only under `skip` and `buffer`, and only when an earlier tick's run may
 * still be open.
 */
export function historyOpenCheck(
  kafka: KafkaPort,
  config: WeftConfig,
  log: Logger,
): (workflowId: string) => Promise<boolean> {
  const topic = topics.history(config);
  const commands = topics.commands(config);
  let partitions: Promise<number> | undefined;
  return async (workflowId) => {
    // A run's events go to the history partition numbered as its commands partition.
    partitions ??= withAdmin(kafka, (admin) => partitionCount(admin, commands));
    const count = await partitions.catch((err: unknown) => {
      partitions = undefined;
      throw err;
    });
    const partition = partitionForKey(commands, workflowId, count);
    const events: HistoryEvent[] = [];
    await readHistoryPartitions(
      kafka,
      topic,
      [partition],
      (_, event) => {
        if (event.workflowId === workflowId) events.push(event);
      },
      log,
    );
    const run = runOfHistory(events);
    return run === undefined || !run.closed;
  };
}
