/**
 * Schedules from code: `client.schedules.create/pause/resume/update/delete/describe`, and what a
 * process hosts to run them (`hostSchedules`). A schedule is a run of the built-in workflow
 * `weft.schedule` under `schedule:<name>` (see workflow/schedules/schedule-workflow.ts): create
 * starts it, the others are signals to it, describe reads the state it publishes.
 */
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { CommandProducer } from "../producers/command-producer";
import { historyOpenCheck, scheduleSteps } from "../producers/schedule-steps";
import type { IdReusePolicy } from "../schemas/types";
import type { KafkaPort } from "../transport/port";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../workflow/definitions";
import {
  ScheduleSignals,
  scheduleWorkflow,
  type ScheduleInput,
  type ScheduleState,
} from "../workflow/schedules/schedule-workflow";
import {
  SCHEDULE_WORKFLOW_TYPE,
  assertScheduleName,
  normalizeSchedule,
  patchSchedule,
  scheduleWorkflowId,
  type ScheduleConfig,
  type ScheduleDefinition,
  type SchedulePatch,
} from "../workflow/schedules/spec";

/** What the schedule client needs of a client: the WeftClient, or the test kit's. */
export interface ScheduleRunPort {
  start(
    workflowType: string,
    options: { workflowId: string; input: ScheduleInput; idReusePolicy: IdReusePolicy },
  ): Promise<{ workflowId: string }>;
  signal(
    workflowId: string,
    signalName: string,
    payload?: unknown,
  ): Promise<{ workflowId: string; requestId: string }>;
  getState<T = unknown>(workflowId: string): Promise<T | undefined>;
}

/** A schedule made or changed: its name and the workflow ID of its run. */
export interface ScheduleRef {
  name: string;
  workflowId: string;
}

/** A valid config that a patch is laid over, so that the patch's own fields get checked. */
const PLACEHOLDER: ScheduleConfig = normalizeSchedule({
  name: "placeholder",
  spec: { everyMs: 60_000 },
  workflowType: "placeholder",
});

/**
 * Checks an update on its own (each field it gives), before it is sent; throws
 * InvalidScheduleError. The schedule's run checks it again against its whole config.
 */
export function checkPatch(patch: SchedulePatch): void {
  patchSchedule(PLACEHOLDER, patch);
}

export class ScheduleClient {
  constructor(private readonly runs: ScheduleRunPort) {}

  /**
   * Makes the schedule (validated first: InvalidScheduleError, INVALID_SCHEDULE). Its first tick
   * is the first after the schedule's run starts. A create while a schedule of that name runs is
   * that schedule's duplicate and changes nothing (use `update`); after a delete, the name may
   * be used again.
   */
  async create(definition: ScheduleDefinition): Promise<ScheduleRef> {
    const schedule = normalizeSchedule(definition);
    const { workflowId } = await this.runs.start(SCHEDULE_WORKFLOW_TYPE, {
      workflowId: scheduleWorkflowId(schedule.name),
      input: { schedule },
      idReusePolicy: "allowAfterClose",
    });
    return { name: schedule.name, workflowId };
  }

  /** No tick starts a run until `resume`; ticks that pass meanwhile are not caught up. */
  async pause(name: string): Promise<ScheduleRef> {
    return this.send(name, ScheduleSignals.pause);
  }

  async resume(name: string): Promise<ScheduleRef> {
    return this.send(name, ScheduleSignals.resume);
  }

  /** Changes the spec, target, input, policies or note; a new spec ticks from now on. */
  async update(name: string, patch: SchedulePatch): Promise<ScheduleRef> {
    checkPatch(patch);
    return this.send(name, ScheduleSignals.update, patch);
  }

  /** Ends the schedule's run (runs it started go on). */
  async delete(name: string): Promise<ScheduleRef> {
    return this.send(name, ScheduleSignals.delete);
  }

  /** The schedule as its run last published it; undefined before its first state. */
  async describe(name: string): Promise<ScheduleState | undefined> {
    return this.runs.getState<ScheduleState>(scheduleWorkflowId(assertScheduleName(name)));
  }

  private async send(name: string, signal: string, payload?: unknown): Promise<ScheduleRef> {
    const workflowId = scheduleWorkflowId(assertScheduleName(name));
    await this.runs.signal(workflowId, signal, payload ?? null);
    return { name, workflowId };
  }
}

/** What a process adds to host schedules: the workflow for its decider, steps for its worker. */
export interface HostedSchedules {
  readonly workflows: readonly AnyWorkflowDefinition[];
  readonly steps: readonly AnyStepDefinition[];
  close(): Promise<void>;
}

/**
 * The schedule workflow and its steps, the steps sending starts through a producer of their own
 * (connected on first use, closed by `close`).
 */
export function hostSchedules(kafka: KafkaPort, config: WeftConfig, log: Logger): HostedSchedules {
  let producer: Promise<CommandProducer> | undefined;
  const connected = (): Promise<CommandProducer> => {
    producer ??= (async () => {
      const p = new CommandProducer(kafka, config);
      await p.connect();
      return p;
    })().catch((err: unknown) => {
      producer = undefined;
      throw err;
    });
    return producer;
  };
  return {
    workflows: [scheduleWorkflow],
    steps: scheduleSteps({
      send: async (command) => (await connected()).send(command),
      isOpen: historyOpenCheck(kafka, config, log.child({ component: "schedules" })),
    }),
    async close() {
      const p = producer;
      producer = undefined;
      if (p) await (await p.catch(() => undefined))?.close();
    },
  };
}
