import type { Command } from "commander";
import { WeftClient } from "../../sdk/client";
import { fail, parseJsonOption, print, type OutputOptions } from "../output";

async function withClient<T>(fn: (client: WeftClient) => Promise<T>): Promise<T> {
  const client = await WeftClient.connect();
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export function registerWorkflow(program: Command): void {
  const workflow = program
    .command("workflow")
    .description("start, signal, cancel and inspect runs");

  workflow
    .command("start")
    .description("start a run (returns at once unless --wait)")
    .argument("<type>", "workflow type")
    .option("--input <json>", "input as JSON")
    .option("--id <workflowId>", "workflow ID (a repeated start with it returns the same run)")
    .option("--idempotency-key <key>", "derive the workflow ID from this key")
    .option("--wait", "wait for the result")
    .option("--timeout <ms>", "how long --wait waits", "60000")
    .option("--json", "print JSON")
    .action(
      async (
        type: string,
        opts: {
          input?: string;
          id?: string;
          idempotencyKey?: string;
          wait?: boolean;
          timeout: string;
          json?: boolean;
        },
      ) => {
        try {
          await withClient(async (client) => {
            const { workflowId } = await client.start(type, {
              workflowId: opts.id,
              idempotencyKey: opts.idempotencyKey,
              input: parseJsonOption(opts.input, "--input"),
            });
            if (!opts.wait) return print({ workflowId }, opts, () => `started ${workflowId}`);
            process.stderr.write(`started ${workflowId}; waiting for its result…\n`);
            const result = await client.result(workflowId, { timeoutMs: Number(opts.timeout) });
            printResult(workflowId, result, opts);
          });
        } catch (err) {
          fail(err);
        }
      },
    );

  workflow
    .command("signal")
    .description("send a signal to a run")
    .argument("<workflowId>")
    .argument("<name>", "signal name")
    .argument("[payload]", "payload as JSON")
    .action(async (workflowId: string, name: string, payload?: string) => {
      try {
        await withClient((client) =>
          client.signal(workflowId, name, parseJsonOption(payload, "payload")),
        );
        process.stdout.write(`signal ${name} sent to ${workflowId}\n`);
      } catch (err) {
        fail(err);
      }
    });

  workflow
    .command("cancel")
    .description("cancel a run")
    .argument("<workflowId>")
    .option("--reason <text>")
    .action(async (workflowId: string, opts: { reason?: string }) => {
      try {
        await withClient((client) => client.cancel(workflowId, opts.reason));
        process.stdout.write(`cancel sent to ${workflowId}\n`);
      } catch (err) {
        fail(err);
      }
    });

  workflow
    .command("wait")
    .description("wait for a run's result")
    .argument("<workflowId>")
    .option("--timeout <ms>", "give up after this long", "60000")
    .option("--json", "print JSON")
    .action(async (workflowId: string, opts: { timeout: string; json?: boolean }) => {
      try {
        const result = await withClient((client) =>
          client.result(workflowId, { timeoutMs: Number(opts.timeout) }),
        );
        printResult(workflowId, result, opts);
      } catch (err) {
        fail(err);
      }
    });

  workflow
    .command("history")
    .description("print a run's history")
    .argument("<workflowId>")
    .option("--json", "print JSON")
    .action(async (workflowId: string, opts: { json?: boolean }) => {
      try {
        const events = await withClient((client) => client.getHistory(workflowId));
        print(events, opts, () =>
          events
            .map(
              (e) =>
                `${String(e.seq).padStart(4)}  ${new Date(e.at).toISOString()}  ${e.body.type.padEnd(20)} ${summary(e.body)}`,
            )
            .join("\n"),
        );
      } catch (err) {
        fail(err);
      }
    });
}

function summary(body: Record<string, unknown>): string {
  const { type: _type, input: _input, retryPolicy: _policy, ...rest } = body;
  return JSON.stringify(rest);
}

function printResult(workflowId: string, result: unknown, opts: OutputOptions): void {
  print({ workflowId, result }, opts, () => `${workflowId} completed: ${JSON.stringify(result)}`);
}
