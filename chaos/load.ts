/**
 * The load of a chaos run, all through GraphQL: startWorkflow at a fixed rate (open loop), and
 * a signal for chaosSignal runs once their wait begins — some at once, some just before the
 * wait's deadline, some never (the timeout branch) — a share of them sent again with the same
 * request ID, as a client that lost an acknowledgement would. Every acknowledgement is kept.
 */
import { randomUUID } from "node:crypto";
import type { HistoryEvent } from "../schemas/types";
import { SIGNAL_WORKFLOW, SIGNAL_WORKFLOW_WITH_REQUEST_ID, START_WORKFLOW, type Apis } from "./api";
import type { SignalSend, StartAck } from "./checks";
import type { LineFile } from "./line-file";
import type { Random } from "./random";
import { CHAOS_SIGNAL } from "./workflows";

/** Starts waiting for their acknowledgement; past this the load skips a tick rather than pile up. */
const MAX_IN_FLIGHT = 1000;

export class Load {
  readonly starts: StartAck[] = [];
  readonly signals: SignalSend[] = [];
  startsRefused = 0;
  skippedTicks = 0;
  private inFlight = new Set<Promise<void>>();
  private readonly planned = new Set<string>();
  private stopSignals = false;

  constructor(
    private readonly apis: Apis,
    private readonly rng: { starts: Random; signals: Random },
    private readonly runTag: string,
    /** Whether signalWorkflow takes a request ID (else no deliberate retries are sent). */
    private readonly requestIds: boolean,
    private readonly acks: LineFile,
    private readonly log: (line: string) => void,
  ) {}

  /** Starts `rate` runs a second until `until` (or abort); resolves when all were answered. */
  async runStarts(rate: number, until: number, abort: AbortSignal): Promise<void> {
    const interval = 1000 / rate;
    const t0 = Date.now();
    for (let i = 0; Date.now() < until && !abort.aborted; i++) {
      const wait = t0 + i * interval - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (this.inFlight.size >= MAX_IN_FLIGHT) {
        this.skippedTicks++;
        continue;
      }
      this.track(this.start(i));
    }
  }

  /** Resolves once every call in flight (starts and signals) was answered or gave up. */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  /** No new signals from here on (the ones planned still go). */
  stopPlanning(): void {
    this.stopSignals = true;
  }

  /** Fed by the history tail: plans a signal when a chaosSignal run begins its wait. */
  onEvent(event: HistoryEvent): void {
    const b = event.body;
    if (b.type !== "SignalWaitStarted" || b.dueAt === null || b.signalName !== CHAOS_SIGNAL) return;
    const key = `${event.workflowId}#${b.waitSeq}`;
    if (this.planned.has(key) || this.stopSignals) return;
    this.planned.add(key);
    const rng = this.rng.signals;
    const plan = rng.weighted({ prompt: 4, late: 3, none: 3 });
    const promptDelay = rng.between(0, 500);
    const lateLead = rng.between(200, 1500);
    const retry = this.requestIds && rng.next() < 0.3;
    const retryDelay = rng.between(0, 1500);
    if (plan === "none") return;
    const sendAt = plan === "prompt" ? Date.now() + promptDelay : b.dueAt - lateLead;
    // Seen too late to send before the deadline with any margin: not sent (nothing to check).
    if (sendAt < Date.now() - 50 && b.dueAt - Date.now() < 300) return;
    const signal: SignalSend = {
      workflowId: event.workflowId,
      waitSeq: b.waitSeq,
      dueAt: b.dueAt,
      marker: `${key}/${randomUUID().slice(0, 8)}`,
      requestId: this.requestIds ? `chaos-${randomUUID()}` : null,
      plan,
      seenAt: Date.now(),
      waitAt: event.at,
      calls: 0,
      acks: [],
    };
    this.signals.push(signal);
    this.track(
      (async () => {
        await sleepUntil(sendAt);
        await this.sendSignal(signal);
        if (retry && signal.acks.length) {
          await new Promise((r) => setTimeout(r, retryDelay));
          await this.sendSignal(signal);
        }
      })(),
    );
  }

  private async start(i: number): Promise<void> {
    const rng = this.rng.starts;
    const type = rng.weighted({ chaosChain: 3, chaosSleep: 2.5, chaosSignal: 3, chaosRetry: 1.5 });
    const ms = rng.int(5, 40);
    const input =
      type === "chaosChain"
        ? { steps: rng.int(3, 6), ms }
        : type === "chaosSleep"
          ? { sleepMs: rng.int(1000, 5000), ms }
          : type === "chaosSignal"
            ? { timeoutMs: rng.int(8000, 15_000), ms }
            : { failures: rng.int(1, 2), backoffMs: rng.int(300, 800), ms };
    const workflowId = `${this.runTag}-${i}`;
    const sentAt = Date.now();
    try {
      // The same workflow ID on every try: a start the API wrote but could not acknowledge
      // names the same run (idempotent start).
      const ack = await this.apis.call(
        START_WORKFLOW,
        { type, id: workflowId, input },
        this.apis.next(),
        30_000,
      );
      const start: StartAck = {
        workflowId,
        type,
        sentAt,
        ackAt: ack.at,
        api: ack.api,
        tries: ack.tries,
      };
      this.starts.push(start);
      this.acks.write(JSON.stringify({ kind: "start", ...start }));
    } catch (err) {
      this.startsRefused++;
      this.log(`start ${workflowId} refused after 30 s of tries: ${String(err).slice(0, 200)}`);
    }
  }

  private async sendSignal(signal: SignalSend): Promise<void> {
    const variables = {
      id: signal.workflowId,
      name: CHAOS_SIGNAL,
      payload: { marker: signal.marker },
      ...(signal.requestId ? { requestId: signal.requestId } : {}),
    };
    try {
      const ack = await this.apis.call(
        signal.requestId ? SIGNAL_WORKFLOW_WITH_REQUEST_ID : SIGNAL_WORKFLOW,
        variables,
        this.apis.next(),
        Math.max(5000, signal.dueAt - Date.now() + 5000),
        () => signal.calls++,
      );
      signal.acks.push(ack.at);
      this.acks.write(
        JSON.stringify({
          kind: "signal",
          workflowId: signal.workflowId,
          waitSeq: signal.waitSeq,
          dueAt: signal.dueAt,
          marker: signal.marker,
          requestId: signal.requestId,
          ackAt: ack.at,
          api: ack.api,
          tries: ack.tries,
        }),
      );
    } catch (err) {
      this.log(`signal ${signal.marker} not acknowledged: ${String(err).slice(0, 200)}`);
    }
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }
}

function sleepUntil(at: number): Promise<void> {
  const ms = at - Date.now();
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
