import type {
  AnyWorkflowDefinition,
  StepOptions,
  WorkflowContext,
  WorkflowDefinition,
} from "./definitions";
import { commandDescriptor } from "./execution";

/** Where workflow code made a call: a file (a path, or a URL for code not on disk) and line. */
export interface CallSite {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** One command the code asked `ctx` for, in call order, and where it asked. */
interface TracedCall {
  readonly descriptor: string;
  readonly site: CallSite | null;
}

/**
 * The call sites of one replay: a copy of the definition whose `ctx` records, for each
 * command call (`step`, `wait`/`sleep`, `waitForSignal`, `child`/`startChild`), the descriptor the execution names
 * it by and the caller's frame of a captured stack.
 *
 * Only the replay check uses it, never the decider: capturing a stack costs a few microseconds
 * per call, nothing to a tool run before a deploy, but not something every decision should
 * pay. It wraps `ctx` from outside, so the execution (workflow/execution.ts) is the decider's
 * own, unchanged.
 *
 * The execution numbers the calls that issue a command `startSeq`, `startSeq + 1`, …; a call
 * that issues none (a rejected argument, a call after the run ended) is recorded here all the
 * same, so `at` checks the descriptor too and answers null rather than a wrong line.
 */
export class CallSites {
  private readonly calls: TracedCall[] = [];
  readonly definition: WorkflowDefinition;

  constructor(definition: AnyWorkflowDefinition) {
    const original = definition as WorkflowDefinition;
    this.definition = Object.freeze({
      ...original,
      fn: (ctx: WorkflowContext, input: unknown) => original.fn(this.traced(ctx), input),
    });
  }

  /**
   * Where the code made the command numbered `seq` (in a run whose WorkflowStarted has
   * `startSeq`), when the call recorded at that position is `descriptor`; otherwise null.
   */
  at(seq: number, startSeq: number, descriptor: string): CallSite | null {
    const call = this.calls[seq - startSeq];
    return call?.descriptor === descriptor ? call.site : null;
  }

  /** Where the code made its last command call (what it did last before it stopped asking). */
  last(): { descriptor: string; site: CallSite } | null {
    for (let i = this.calls.length - 1; i >= 0; i--) {
      const call = this.calls[i]!;
      if (call.site) return { descriptor: call.descriptor, site: call.site };
    }
    return null;
  }

  private traced(ctx: WorkflowContext): WorkflowContext {
    const record = (descriptor: string, caller: (...args: never[]) => unknown) => {
      const holder: { stack?: string } = {};
      // The frames above `caller` (this wrapper) are dropped: the first left is the code's.
      Error.captureStackTrace(holder, caller);
      this.calls.push({ descriptor, site: firstFrame(holder.stack) });
    };
    const wait = (ms: number): Promise<void> => {
      record(commandDescriptor({ kind: "sleep", seq: 0, durationMs: 0 }), wait);
      return ctx.wait(ms);
    };
    // ctx.step is overloaded (a definition or a name): one untyped forwarder serves them all.
    const untypedStep = (ref: unknown, input?: unknown, options?: StepOptions): unknown =>
      (ctx.step as (ref: unknown, input?: unknown, options?: StepOptions) => unknown)(
        ref,
        input,
        options,
      );
    const step = (ref: string | { name: string }, input?: unknown, options?: StepOptions) => {
      const stepName = typeof ref === "string" ? ref : ref.name;
      record(
        commandDescriptor({ kind: "step", seq: 0, stepName, input: "", options: undefined }),
        step,
      );
      return untypedStep(ref, input, options);
    };
    const waitForSignal: WorkflowContext["waitForSignal"] = (name, options) => {
      record(
        commandDescriptor({
          kind: "signalWait",
          seq: 0,
          signalName: name,
          timeoutMs: null,
          satisfied: false,
        }),
        waitForSignal,
      );
      return ctx.waitForSignal(name, options);
    };
    // ctx.child and ctx.startChild are overloaded too, and take the same arguments.
    const childCall = (method: "child" | "startChild") => {
      // ctx is a plain object of arrow functions: nothing depends on `this`.
      const forward = (ref: unknown, input?: unknown, options?: unknown): unknown =>
        (ctx[method] as (ref: unknown, input?: unknown, options?: unknown) => unknown)(
          ref,
          input,
          options,
        );
      const call = (ref: string | { name: string }, input?: unknown, options?: unknown) => {
        const workflowType = typeof ref === "string" ? ref : ref.name;
        record(
          commandDescriptor({
            kind: "child",
            seq: 0,
            workflowType,
            childWorkflowId: "",
            input: "",
            parentClosePolicy: "cancel",
          }),
          call,
        );
        return forward(ref, input, options);
      };
      return call;
    };
    return {
      ...ctx,
      step: step as WorkflowContext["step"],
      wait,
      sleep: wait,
      waitForSignal,
      child: childCall("child") as WorkflowContext["child"],
      startChild: childCall("startChild") as WorkflowContext["startChild"],
    };
  }
}

/** `    at fn (/path/file.ts:12:5)`, `    at /path/file.ts:12:5`, `    at async fn (file:///…)` */
const FRAME = /^\s*at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/;

/** The first frame of a V8 stack that names a file of code (not Node's own). */
function firstFrame(stack: string | undefined): CallSite | null {
  for (const text of (stack ?? "").split("\n").slice(1)) {
    const match = FRAME.exec(text);
    if (!match) continue;
    const [, where, line, column] = match;
    if (where!.startsWith("node:")) continue;
    return { file: filePath(where!), line: Number(line), column: Number(column) };
  }
  return null;
}

function filePath(where: string): string {
  if (!where.startsWith("file://")) return where;
  try {
    return decodeURIComponent(new URL(where).pathname);
  } catch {
    return where;
  }
}
