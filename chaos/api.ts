/**
 * The load's way in: GraphQL over HTTP against the run's API processes, alternating between
 * them. A call that fails (process down, timeout, an error the API returned) is sent again to
 * the other API, as a client with two endpoints would, until it is acknowledged or gives up.
 */
export interface Acknowledged<T> {
  readonly data: T;
  /** Index of the API that acknowledged. */
  readonly api: number;
  readonly at: number;
  /** Calls made, the acknowledged one included. */
  readonly tries: number;
}

export class GraphqlError extends Error {
  constructor(
    message: string,
    /** The answer's `extensions.code`s. */
    readonly codes: readonly string[] = [],
  ) {
    super(message);
  }
}

/**
 * Answers about the run itself, the same from every API: sending the call again to the other
 * one cannot change them (a signal that came after its run closed).
 */
const FINAL_CODES: ReadonlySet<string> = new Set(["NOT_FOUND", "RUN_CLOSED"]);

export class Apis {
  private turn = 0;
  /** Calls that failed and were sent again (on the other API). */
  failedCalls = 0;

  constructor(
    readonly urls: readonly string[],
    /**
     * Longer than the API's own bound on a command's acknowledgement (WEFT_COMMAND_ACK_TIMEOUT_MS,
     * 10 s), so that a start Kafka does not acknowledge comes back NOT_ACKNOWLEDGED and is sent
     * again, as a client would, rather than cut off here first.
     */
    private readonly callTimeoutMs = 15_000,
  ) {}

  /** The next API in turn. */
  next(): number {
    this.turn = (this.turn + 1) % this.urls.length;
    return this.turn;
  }

  /**
   * Sends `query` to API `first`, then on failure to the others in turn, until one acknowledges
   * or `giveUpMs` has passed (then the last error is thrown).
   */
  async call<T>(
    query: string,
    variables: Record<string, unknown>,
    first: number,
    giveUpMs = 30_000,
    /** Told of every call made, failed ones included. */
    onCall: () => void = () => undefined,
  ): Promise<Acknowledged<T>> {
    const deadline = Date.now() + giveUpMs;
    let api = first;
    for (let tries = 1; ; tries++) {
      onCall();
      try {
        const data = await this.post<T>(this.urls[api]!, query, variables);
        return { data, api, at: Date.now(), tries };
      } catch (err) {
        this.failedCalls++;
        if (err instanceof GraphqlError && err.codes.some((c) => FINAL_CODES.has(c))) throw err;
        if (Date.now() + 250 > deadline) throw err;
        api = (api + 1) % this.urls.length;
        // Each API once at once; after a full round, back off a little.
        if (tries % this.urls.length === 0) await new Promise((r) => setTimeout(r, 250 * tries));
      }
    }
  }

  /** One request to one API. */
  async post<T>(url: string, query: string, variables: Record<string, unknown>): Promise<T> {
    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(this.callTimeoutMs),
    });
    const body = (await response.json()) as {
      data?: T;
      errors?: { message: string; extensions?: { code?: string } }[];
    };
    if (body.errors?.length) {
      throw new GraphqlError(
        body.errors.map((e) => e.message).join("; "),
        body.errors.flatMap((e) => (e.extensions?.code ? [e.extensions.code] : [])),
      );
    }
    if (!response.ok || body.data === undefined) {
      throw new GraphqlError(`HTTP ${response.status} without data`);
    }
    return body.data;
  }
}

/** Whether the API's signalWorkflow takes a client's request ID (asked by introspection). */
export async function signalTakesRequestId(apis: Apis): Promise<boolean> {
  const { data } = await apis.call<{
    __type: { fields: { name: string; args: { name: string }[] }[] } | null;
  }>(`{ __type(name: "Mutation") { fields { name args { name } } } }`, {}, 0);
  const signal = data.__type?.fields.find((f) => f.name === "signalWorkflow");
  return signal?.args.some((a) => a.name === "requestId") ?? false;
}

export const START_WORKFLOW = `mutation($type: String!, $id: String, $input: JSON) {
  startWorkflow(type: $type, workflowId: $id, input: $input) { workflowId }
}`;

export const SIGNAL_WORKFLOW = `mutation($id: String!, $name: String!, $payload: JSON) {
  signalWorkflow(workflowId: $id, name: $name, payload: $payload) { accepted }
}`;

export const SIGNAL_WORKFLOW_WITH_REQUEST_ID = `mutation($id: String!, $name: String!, $payload: JSON, $requestId: String) {
  signalWorkflow(workflowId: $id, name: $name, payload: $payload, requestId: $requestId) { accepted }
}`;
