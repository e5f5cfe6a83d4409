import { resolveRetryPolicy, type ResolvedRetryPolicy } from "../core/retry";
import { definitionHash } from "../producers/registration-publisher";
import type {
  AnyStepDefinition,
  AnyWorkflowDefinition,
  StepDefinition,
  StepOptions,
  WorkflowDefinition,
} from "../workflow/definitions";

export const DEFAULT_TASK_QUEUE = "default";

/** How one step call runs: its queue, its limits and its retry policy. */
export interface StepPolicy {
  taskQueue: string;
  timeoutMs: number | null;
  heartbeatTimeoutMs: number | null;
  scheduleToStartTimeoutMs: number | null;
  retry: ResolvedRetryPolicy;
}

/** The workflow and step types one process hosts, looked up by name. */
export class Registry {
  readonly workflows = new Map<string, WorkflowDefinition>();
  readonly steps = new Map<string, StepDefinition>();
  private readonly hashes = new Map<string, string>();

  constructor(
    workflows: readonly AnyWorkflowDefinition[] = [],
    steps: readonly AnyStepDefinition[] = [],
  ) {
    for (const w of workflows) {
      if (this.workflows.has(w.name)) throw new TypeError(`workflow ${w.name} is defined twice`);
      this.workflows.set(w.name, w as WorkflowDefinition);
    }
    for (const s of steps) {
      if (this.steps.has(s.name)) throw new TypeError(`step ${s.name} is defined twice`);
      this.steps.set(s.name, s as StepDefinition);
    }
  }

  /**
   * The hash a process registers for the workflow type (its code and options): the version a
   * run records it started under. Undefined for a type this process does not define.
   */
  workflowHash(workflowType: string): string | undefined {
    let hash = this.hashes.get(workflowType);
    const workflow = this.workflows.get(workflowType);
    if (hash === undefined && workflow) {
      hash = definitionHash(workflow.fn, workflow.options);
      this.hashes.set(workflowType, hash);
    }
    return hash;
  }

  /** Call options beat the step's definition, which beats the workflow's defaults. */
  stepPolicy(
    workflow: WorkflowDefinition,
    stepName: string,
    call: StepOptions | undefined,
  ): StepPolicy {
    const defined = this.steps.get(stepName)?.options;
    return {
      taskQueue:
        call?.taskQueue ?? defined?.taskQueue ?? workflow.options.taskQueue ?? DEFAULT_TASK_QUEUE,
      timeoutMs: call?.timeoutMs ?? defined?.timeoutMs ?? workflow.options.stepTimeoutMs ?? null,
      heartbeatTimeoutMs: call?.heartbeatTimeoutMs ?? defined?.heartbeatTimeoutMs ?? null,
      scheduleToStartTimeoutMs:
        call?.scheduleToStartTimeoutMs ?? defined?.scheduleToStartTimeoutMs ?? null,
      retry: resolveRetryPolicy(workflow.options.retry, defined?.retry, call?.retry),
    };
  }
}
