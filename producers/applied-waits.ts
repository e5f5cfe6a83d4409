/**
 * Waits until a view's consumer (the deciders, the projector) has applied every command of a
 * run's partition acknowledged before the wait began: they all sit below the partition's end
 * offset read after it. `checkRun` (run-check.ts) waits so before it answers NOT_FOUND; a
 * client, before it looks for a run it started in history.
 *
 * Many runs at once: a client awaiting the results of a burst of starts it sent waits, for
 * each, until the deciders have applied its start. Each wait on its own read its partition's
 * end and then polled the deciders' position every 10–100 ms:
 * 5,000 results of a burst made 5,000 pollers, each an admin request a look (measured: 5 % of
 * the embedded engine's CPU through a burst, all of it the client's waiting). Here the waits
 * share their reads:
 *
 * - the end of a partition: a wait takes the read begun after it asked (a read already out may
 *   have been answered before its command was acknowledged), so waits arriving while one is out
 *   share the one queued after it;
 * - the deciders' position: one poller per partition reads it for all of the partition's
 *   waits, every 10 ms while new waits come, backing off to 100 ms while none does.
 */
import { backoffMs, type Backoff } from "../core/backoff";
import type { CommandProducer } from "./command-producer";
import type { RunView } from "./run-check";

export interface AppliedWait {
  caughtUp: boolean;
  partition: number;
  applied: bigint;
  end: bigint;
}

interface Waiter {
  end: bigint;
  deadline: number;
  settle: (wait: AppliedWait) => void;
  fail: (err: unknown) => void;
}

const POLL: Backoff = Object.freeze({ initialMs: 10, maxMs: 100, jitter: 0 });

export class AppliedWaits {
  private readonly ends = new Map<number, NextRead<bigint>>();
  private readonly waiting = new Map<number, Set<Waiter>>();
  /** Per partition with a poller running: its looks since a wait last joined. */
  private readonly looks = new Map<number, number>();

  constructor(
    private readonly view: Pick<RunView, "appliedOffset">,
    private readonly commands: Pick<CommandProducer, "partitionFor" | "partitionEnd">,
    private readonly poll: Backoff = POLL,
  ) {}

  /** Waits (until `deadline`) for the deciders to apply every command of the run's partition acknowledged before this call. */
  async until(workflowId: string, deadline: number): Promise<AppliedWait> {
    const partition = this.commands.partitionFor(workflowId);
    let reads = this.ends.get(partition);
    if (!reads) {
      reads = new NextRead(async () => (await this.commands.partitionEnd(workflowId)).end);
      this.ends.set(partition, reads);
    }
    const end = await reads.next();
    return new Promise<AppliedWait>((settle, fail) => {
      let waiters = this.waiting.get(partition);
      if (!waiters) this.waiting.set(partition, (waiters = new Set()));
      waiters.add({ end, deadline, settle, fail });
      const running = this.looks.has(partition);
      this.looks.set(partition, 0);
      if (!running) void this.pollPartition(partition, waiters);
    });
  }

  private async pollPartition(partition: number, waiters: Set<Waiter>): Promise<void> {
    try {
      while (waiters.size > 0) {
        const looks = this.looks.get(partition)! + 1;
        this.looks.set(partition, looks);
        let applied: bigint;
        try {
          applied = await this.view.appliedOffset(partition);
        } catch (err) {
          for (const waiter of waiters) waiter.fail(err);
          waiters.clear();
          return;
        }
        const now = Date.now();
        let soonest = Infinity;
        for (const waiter of waiters) {
          const caughtUp = applied >= waiter.end;
          if (caughtUp || now >= waiter.deadline) {
            waiter.settle({ caughtUp, partition, applied, end: waiter.end });
            waiters.delete(waiter);
          } else {
            soonest = Math.min(soonest, waiter.deadline);
          }
        }
        if (waiters.size === 0) return;
        await pause(Math.min(backoffMs(this.poll, looks), soonest - now));
      }
    } finally {
      this.looks.delete(partition);
      if (waiters.size === 0) this.waiting.delete(partition);
    }
  }
}

/**
 * Reads whose callers need one begun after they asked: a caller arriving while a read is out
 * gets the next one, begun once that one is answered, which every caller arriving meanwhile
 * shares.
 */
export class NextRead<T> {
  private out: Promise<T> | undefined;
  private queued: Promise<T> | undefined;

  constructor(private readonly read: () => Promise<T>) {}

  next(): Promise<T> {
    if (!this.out) return this.begin();
    if (!this.queued) {
      const settle = () => {
        this.queued = undefined;
        return this.begin();
      };
      this.queued = this.out.then(settle, settle);
    }
    return this.queued;
  }

  private begin(): Promise<T> {
    const read = this.read();
    this.out = read;
    const done = () => {
      if (this.out === read) this.out = undefined;
    };
    read.then(done, done);
    return read;
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
