/** /readyz of a role process, and a run driven through the API, for the dependency-down tests. */
import { waitFor } from "./env";

const DEPENDENCIES = ["kafka", "redis", "postgres"];
import { httpGql } from "./graphql-client";

export interface ReadyzWait {
  role: string;
  dependency: string;
  action: string;
  failures: number;
  error?: string;
}

export interface Readyz {
  status: number;
  ready: boolean;
  failed: string[];
  starting: string[];
  waiting: ReadyzWait[];
}

/** GET `<address>/readyz`; undefined while nothing answers there. */
export async function readyz(address: string): Promise<Readyz | undefined> {
  let res: Response;
  try {
    res = await fetch(`${address}/readyz`, { signal: AbortSignal.timeout(5000) });
  } catch {
    return undefined;
  }
  const body = (await res.json()) as Partial<Readyz>;
  return {
    status: res.status,
    ready: body.ready === true,
    failed: body.failed ?? [],
    starting: body.starting ?? [],
    waiting: body.waiting ?? [],
  };
}

/**
 * Waits until `address` answers /readyz with 503 naming `missing` as the one dependency that
 * fails (the schema check may fail with PostgreSQL), and every role in
 * `roles` has failed at least once trying to reach it (it outlived a failed try).
 */
export async function waitUntilWaitingFor(
  address: string,
  missing: string,
  roles: readonly string[],
  timeoutMs = 60_000,
): Promise<Readyz> {
  let last: Readyz | undefined;
  try {
    return await waitFor(
      `${address} to wait for ${missing} after a failed try (${roles.join(", ")})`,
      async () => {
        last = await readyz(address);
        // Only `missing` among the dependencies (a schema check may fail with PostgreSQL).
        const dependencies = last?.failed.filter((f) => DEPENDENCIES.includes(f));
        if (!last || last.status !== 503 || dependencies?.join() !== missing) return undefined;
        const failedOnce = roles.every((role) =>
          last!.waiting.some((w) => w.role === role && w.dependency === missing && w.failures >= 1),
        );
        return failedOnce ? last : undefined;
      },
      timeoutMs,
      250,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last /readyz: ${JSON.stringify(last)}`);
  }
}

/** Waits until `address` answers /readyz 200. */
export async function waitUntilReady(address: string, timeoutMs = 90_000): Promise<void> {
  let last: Readyz | undefined;
  try {
    await waitFor(
      `${address} to be ready`,
      async () => {
        last = await readyz(address);
        return last?.status === 200 && last.ready;
      },
      timeoutMs,
      250,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last /readyz: ${JSON.stringify(last)}`);
  }
}

/**
 * Starts a run through the API, once its type is registered (a decider registers it and the
 * projector stores it), then waits until the API shows it completed; resolves with its result.
 */
export async function runThroughApi(
  api: string,
  type: string,
  input: unknown,
  timeoutMs = 60_000,
): Promise<unknown> {
  const workflowId = await waitFor(
    `the API to accept a ${type} run`,
    async () => {
      const res = await httpGql<{ startWorkflow: { workflowId: string } }>(
        api,
        `mutation($type: String!, $input: JSON) { startWorkflow(type: $type, input: $input) { workflowId } }`,
        { type, input },
      );
      if (res.errors?.some((e) => e.extensions?.code !== "UNKNOWN_WORKFLOW_TYPE"))
        throw new Error(`start refused: ${JSON.stringify(res.errors)}`);
      return res.data?.startWorkflow.workflowId;
    },
    timeoutMs,
    250,
  );
  return waitFor(
    `run ${workflowId} to complete`,
    async () => {
      const res = await httpGql<{ workflow: { status: string; result: unknown } | null }>(
        api,
        `query($id: String!) { workflow(id: $id) { status result } }`,
        { id: workflowId },
      );
      const run = res.data?.workflow;
      if (run && run.status !== "COMPLETED" && run.status !== "RUNNING" && run.status !== "PENDING")
        throw new Error(`run ${workflowId} ended ${run.status}`);
      return run?.status === "COMPLETED" ? { result: run.result } : undefined;
    },
    timeoutMs,
    250,
  ).then(({ result }) => result);
}
