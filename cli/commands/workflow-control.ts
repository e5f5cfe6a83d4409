import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import { ApiUnreachableError, type ApiClient } from "../api-client";
import { WeftError } from "../../core/errors";
import { parseJsonOption, print } from "../output";
import { ID_REUSE } from "./workflow-start";
import { apiOptions, durationOption, withApi, type ApiCliOptions } from "./api-options";

const SIGNAL = `mutation ($workflowId: String!, $name: String!, $payload: JSON, $requestId: String) {
  signalWorkflow(workflowId: $workflowId, name: $name, payload: $payload, requestId: $requestId) { workflowId accepted requestId }
}`;
const SIGNAL_WITH_START = `mutation ($type: String!, $workflowId: String!, $name: String!, $payload: JSON, $input: JSON, $idReusePolicy: IdReusePolicy, $requestId: String, $executionTimeoutMs: Float) {
  signalWithStart(type: $type, workflowId: $workflowId, name: $name, payload: $payload, input: $input, idReusePolicy: $idReusePolicy, requestId: $requestId, executionTimeoutMs: $executionTimeoutMs) { workflowId requestId waitingForDecider }
}`;
const CANCEL = `mutation ($workflowId: String!, $reason: String, $requestId: String) {
  cancelWorkflow(workflowId: $workflowId, reason: $reason, requestId: $requestId) { workflowId accepted requestId }
}`;

interface Accepted {
  workflowId: string;
  accepted: boolean;
  requestId: string;
}

type ControlOptions = ApiCliOptions & { requestId?: string };

/** Waits before the second and third try of a request whose answer was lost. */
const RETRY_DELAYS_MS = [500, 2000];

/**
 * Sends a signal or cancel, trying again while the API cannot be reached or its answer is
 * lost (reset, timeout, a proxy's error page). Every try carries the same request ID, so one
 * that got through before its answer was lost is not recorded twice.
 */
export async function sendRequest<T>(
  client: ApiClient,
  mutation: string,
  variables: Record<string, unknown> & { requestId: string },
): Promise<T> {
  for (let tried = 0; ; tried++) {
    try {
      return await client.request<T>(mutation, variables);
    } catch (err) {
      const delay = RETRY_DELAYS_MS[tried];
      if (!(err instanceof ApiUnreachableError) || delay === undefined) throw err;
      await sleep(delay);
    }
  }
}

export function requestIdOption(command: Command): Command {
  return command.option(
    "--request-id <id>",
    "names this request: sent again with the same ID, it is recorded once (default: a new UUID, printed)",
  );
}

/** `signal` and `cancel`: commands to a run, accepted once they are durably in Kafka. */
export function registerWorkflowControl(workflow: Command): void {
  apiOptions(
    requestIdOption(
      workflow
        .command("signal")
        .description("send a signal to a run")
        .argument("<workflowId>")
        .argument("<name>", "signal name")
        .argument("[payload]", "payload as JSON"),
    ),
  ).action((workflowId: string, name: string, payload: string | undefined, opts: ControlOptions) =>
    withApi(opts, async (client) => {
      const { signalWorkflow } = await sendRequest<{ signalWorkflow: Accepted }>(client, SIGNAL, {
        workflowId,
        name,
        payload: parseJsonOption(payload, "payload"),
        requestId: opts.requestId ?? randomUUID(),
      });
      print(
        signalWorkflow,
        opts,
        () => `signal ${name} sent to ${workflowId} (request ID ${signalWorkflow.requestId})`,
      );
    }),
  );

  apiOptions(
    requestIdOption(
      workflow
        .command("signal-with-start")
        .description(
          "start a run of <type> under <workflowId> unless one is open there, and send it the signal, in one command",
        )
        .argument("<type>", "workflow type")
        .argument("<workflowId>")
        .argument("<name>", "signal name")
        .argument("[payload]", "payload as JSON")
        .option("--input <json>", "the run's input as JSON, when this starts it")
        .option(
          "--id-reuse <policy>",
          "when the ID names a closed run: reject-duplicate (default: the command is dropped), allow-after-close or allow-after-failure (a new run)",
        )
        .option(
          "--execution-timeout <duration>",
          "when this starts the run: it fails with WORKFLOW_TIMEOUT if still open this long after its start (90s, 30m, 6h, 2d, 1h30m or milliseconds)",
        ),
    ),
  ).action(
    (
      type: string,
      workflowId: string,
      name: string,
      payload: string | undefined,
      opts: ControlOptions & { input?: string; idReuse?: string; executionTimeout?: string },
    ) =>
      withApi(opts, async (client) => {
        const reuse = opts.idReuse === undefined ? undefined : ID_REUSE[opts.idReuse];
        if (opts.idReuse !== undefined && !reuse) {
          throw new WeftError(
            "INVALID_INPUT",
            `--id-reuse ${opts.idReuse} is none of ${Object.keys(ID_REUSE).join(", ")}`,
          );
        }
        const { signalWithStart } = await sendRequest<{
          signalWithStart: { workflowId: string; requestId: string; waitingForDecider: boolean };
        }>(client, SIGNAL_WITH_START, {
          type,
          workflowId,
          name,
          payload: parseJsonOption(payload, "payload"),
          input: parseJsonOption(opts.input, "--input"),
          idReusePolicy: reuse?.graphql,
          requestId: opts.requestId ?? randomUUID(),
          executionTimeoutMs:
            opts.executionTimeout === undefined
              ? undefined
              : durationOption(opts.executionTimeout, "--execution-timeout"),
        });
        if (signalWithStart.waitingForDecider) {
          process.stderr.write(
            `weft: no live decider hosts ${type} right now: the command waits in Kafka and is applied when one comes back\n`,
          );
        }
        print(
          signalWithStart,
          opts,
          () =>
            `signal ${name} sent to ${workflowId}, started if no run was open (request ID ${signalWithStart.requestId})`,
        );
      }),
  );

  apiOptions(
    requestIdOption(
      workflow
        .command("cancel")
        .description("cancel a run")
        .argument("<workflowId>")
        .option("--reason <text>", "why; recorded in the run's history"),
    ),
  ).action((workflowId: string, opts: ControlOptions & { reason?: string }) =>
    withApi(opts, async (client) => {
      const { cancelWorkflow } = await sendRequest<{ cancelWorkflow: Accepted }>(client, CANCEL, {
        workflowId,
        reason: opts.reason,
        requestId: opts.requestId ?? randomUUID(),
      });
      print(
        cancelWorkflow,
        opts,
        () => `cancel sent to ${workflowId} (request ID ${cancelWorkflow.requestId})`,
      );
    }),
  );
}
