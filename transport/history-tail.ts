import type { KafkaPort, PortAdmin, PortTopicOffsets, TopicRead } from "./port";
import { backoffMs, DEPENDENCY_BACKOFF, sleep } from "../core/backoff";
import { isUnrecoverable } from "../core/errors";
import type { Logger } from "../core/logger";
import { endStatus } from "../core/run-lifecycle";
import { historyCodec } from "../schemas/codec";
import { readHistoryPartitions } from "./history-reader";
import { partitionForKey } from "./partitioning";
import { topicReader } from "./topic-reader";
import { WrittenEnd } from "./written-end";
import type { HistoryEvent } from "../schemas/types";

type Listener = (event: HistoryEvent) => void;

/** A partition read whole (see readWhole) gives up only when it stops moving for this long. */
const WHOLE_READ_STALL_MS = 30_000;
/** setTimeout's longest delay (about 24.8 days). */
const WHOLE_READ_MAX_MS = 2 ** 31 - 1;

/** One read of a partition of history whole, for the runs asked for while it was queued. */
interface WholeRead {
  readonly wanted: Set<string>;
  /** The runs' events as the read found them: a wanted run absent never began there. */
  done: Promise<ReadonlyMap<string, readonly HistoryEvent[]>>;
}

/** One read of the partitions' ends, shared by the catchUp calls that joined it. */
interface EndsRead {
  /** The latest of its callers' deadlines: it asks again while a broker is away until then. */
  deadline: number;
  ends: Promise<PortTopicOffsets[]>;
}

export interface HistoryTailOptions {
  /**
   * Where the tail begins. "beginning" (the default): every run's events, all kept. "now":
   * the partitions' ends when it starts, so that starting costs the same whatever history
   * holds; a run begun before is read from its own partition when first asked for
   * (`eventsOf`), and closed runs nobody waits on leave memory past `maxRuns`.
   */
  from?: "beginning" | "now";
  /** From "now": runs whose events are kept at most (default 10,000). */
  maxRuns?: number;
}

/**
 * Follows every partition of `weft.history` (read_committed) and keeps the events per run in
 * memory: what the client and the tests use to wait for results and read histories. The
 * read-side projections are the scalable way to query runs.
 */
export class HistoryTail {
  private readonly runs = new Map<string, HistoryEvent[]>();
  /**
   * From "now": runs whose events are held from their first (their seq 1 was read here, or
   * their partition was read for them). Any other run's are read before `eventsOf` answers.
   */
  private readonly complete = new Set<string>();
  /** Per partition, the whole read out now and the one queued to start after it. */
  private readonly partitionReads = new Map<number, { out?: WholeRead; queued?: WholeRead }>();
  /** From "now": runs read here ending, in the order they ended (what `letGo` lets go first). */
  private readonly ended = new Map<string, true>();
  private readonly from: "beginning" | "now";
  private readonly maxRuns: number;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly position = new Map<number, bigint>();
  private read: TopicRead | undefined;
  private admin: PortAdmin | undefined;
  private adminConnected: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private readonly written: WrittenEnd;
  /** catchUp calls waiting for the position to reach the ends they read, by that read. */
  private readonly readWaits = new Map<readonly PortTopicOffsets[], Set<() => void>>();
  /** The read of the partitions' ends out now, and the one queued to start after it. */
  private endsOut: EndsRead | undefined;
  private endsQueued: EndsRead | undefined;

  constructor(
    private readonly kafka: KafkaPort,
    private readonly topic: string,
    private readonly log: Logger,
    options: HistoryTailOptions = {},
  ) {
    this.written = new WrittenEnd(kafka, topic, () => this.connectedAdmin());
    this.from = options.from ?? "beginning";
    this.maxRuns = options.maxRuns ?? 10_000;
  }

  start(): Promise<void> {
    this.starting ??= this.run();
    return this.starting;
  }

  /**
   * From "now": fixes where the tail begins, at the partitions' ends as of this call, before it
   * runs (a client calls it as it connects, so that every run it starts is read from its first
   * event). Otherwise the tail begins where the partitions end when it starts.
   */
  async beginAtEnds(): Promise<void> {
    if (this.from !== "now" || this.position.size > 0) return;
    const ends = await this.endsAfterNow(Date.now() + 30_000);
    if (this.position.size > 0) return;
    for (const end of ends) this.position.set(end.partition, BigInt(end.high));
  }

  events(workflowId: string): readonly HistoryEvent[] {
    return this.runs.get(workflowId) ?? [];
  }

  /**
   * The run's events from its first on, as far as read: from "now", a run this tail did not
   * see begin is first read from its partition of history (see readFor).
   */
  async eventsOf(workflowId: string): Promise<readonly HistoryEvent[]> {
    await this.start();
    if (this.from === "now" && !this.complete.has(workflowId)) {
      const read = await this.readFor(workflowId);
      // Held, unless more runs than the bound were open: then from the read itself.
      return this.runs.get(workflowId) ?? read.get(workflowId) ?? [];
    }
    return this.events(workflowId);
  }

  get workflowIds(): string[] {
    return [...this.runs.keys()];
  }

  /** Calls `listener` for each event of the run, past and future; returns an unsubscribe. */
  subscribe(workflowId: string, listener: Listener): () => void {
    for (const e of this.events(workflowId)) listener(e);
    const set = this.listeners.get(workflowId) ?? new Set();
    set.add(listener);
    this.listeners.set(workflowId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(workflowId) === set)
        this.listeners.delete(workflowId);
    };
  }

  /**
   * The offset the tail reads next on a partition: every decided record below it has been
   * read (and every committed one delivered).
   */
  readTo(partition: number): bigint {
    return this.position.get(partition) ?? 0n;
  }

  /**
   * Where the partition ends now counting records of transactions not yet decided (see
   * transport/written-end.ts): once `readTo` reaches it, all of them have been read or dropped.
   */
  async writtenEnd(partition: number): Promise<bigint> {
    await this.start();
    return this.written.of(partition);
  }

  /** One admin for the tail's life: callers ask for histories in loops. */
  private async connectedAdmin(): Promise<PortAdmin> {
    this.admin ??= this.kafka.admin();
    this.adminConnected ??= this.admin.connect();
    await this.adminConnected;
    return this.admin;
  }

  /** Resolves when everything committed to history before this call has been read. */
  async catchUp(timeoutMs = 30_000): Promise<void> {
    await this.start();
    const deadline = Date.now() + timeoutMs;
    const ends = await this.endsAfterNow(deadline);
    if (this.reached(ends)) return;
    // The calls that shared a read of the ends wait together: one check each time the tail
    // moves, however many calls (a client waiting on 5,000 results makes 5,000).
    let waiting = this.readWaits.get(ends);
    if (!waiting) this.readWaits.set(ends, (waiting = new Set()));
    const callers = waiting;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        callers.delete(done);
        reject(new Error(`history tail did not catch up within ${timeoutMs} ms`));
      }, deadline - Date.now());
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      callers.add(done);
    });
  }

  private reached(ends: readonly PortTopicOffsets[]): boolean {
    return ends.every((e) => (this.position.get(e.partition) ?? 0n) >= BigInt(e.high));
  }

  /** The tail moved: calls waiting for ends it has now reached go on. */
  private moved(): void {
    for (const [ends, callers] of this.readWaits) {
      if (callers.size > 0 && !this.reached(ends)) continue;
      this.readWaits.delete(ends);
      for (const done of callers) done();
    }
  }

  /**
   * The partitions' ends as read after this call began. The read out now may have asked
   * before it, so the call joins the read queued to start next: a client waiting on thousands
   * of results asks a few times, not once each (an ask is two ListOffsets requests, work for
   * the broker too).
   */
  private endsAfterNow(deadline: number): Promise<PortTopicOffsets[]> {
    if (!this.endsQueued) {
      const read: EndsRead = { deadline, ends: Promise.resolve([]) };
      const before = this.endsOut?.ends.catch(() => undefined);
      read.ends = (async () => {
        await before;
        this.endsQueued = undefined;
        this.endsOut = read;
        try {
          return await this.endsBy(read);
        } finally {
          if (this.endsOut === read) this.endsOut = undefined;
        }
      })();
      this.endsQueued = read;
    }
    this.endsQueued.deadline = Math.max(this.endsQueued.deadline, deadline);
    return this.endsQueued.ends;
  }

  /**
   * The history partitions' ends, asked again until the read's deadline while a broker is
   * away: a partition whose leader was just lost answers NOT_LEADER or not at all until its new
   * leader is known (seen: every `result` of a client rejected at once after a broker's kill).
   */
  private async endsBy(read: { deadline: number }): Promise<PortTopicOffsets[]> {
    for (let failures = 1; ; failures++) {
      try {
        return await (await this.connectedAdmin()).fetchTopicOffsets(this.topic);
      } catch (err) {
        const delay = backoffMs(DEPENDENCY_BACKOFF, failures);
        if (isUnrecoverable(err) || Date.now() + delay > read.deadline) throw err;
        // A fresh admin asks fresh metadata: where the partitions' leaders are now.
        const admin = this.admin;
        this.admin = undefined;
        this.adminConnected = undefined;
        await admin?.disconnect().catch(() => undefined);
        await sleep(delay);
      }
    }
  }

  /** The partition of history that holds the run's events. */
  private partitionOf(workflowId: string): number {
    // From "now" the tail stands somewhere on every partition since it started.
    return partitionForKey(this.topic, workflowId, this.position.size);
  }

  /**
   * Reads the run's partition of history whole for it. Asks made while a read of the
   * partition is out share the one queued after it (a read out now may have passed their
   * runs' events): a script asking for many runs of a partition at once reads it about twice,
   * not once per run.
   */
  private readFor(workflowId: string): Promise<ReadonlyMap<string, readonly HistoryEvent[]>> {
    const partition = this.partitionOf(workflowId);
    const slot = this.partitionReads.get(partition) ?? {};
    this.partitionReads.set(partition, slot);
    if (!slot.queued) {
      const read: WholeRead = { wanted: new Set(), done: Promise.resolve(new Map()) };
      const before = slot.out?.done.catch(() => undefined);
      read.done = (async () => {
        await before;
        slot.queued = undefined;
        slot.out = read;
        try {
          // A run the read before kept (an open one) needs no read of its own.
          const wanted = new Set([...read.wanted].filter((id) => !this.complete.has(id)));
          return wanted.size > 0 ? await this.readWhole(partition, wanted) : new Map();
        } finally {
          if (slot.out === read) slot.out = undefined;
        }
      })();
      slot.queued = read;
    }
    slot.queued.wanted.add(workflowId);
    return slot.queued.done;
  }

  /**
   * Reads a partition of history from its first record to where it ends now, and keeps the
   * runs asked for and the runs still open: a client asking for one run begun before it
   * connected is often asking for more of those that wait (a script signalling them). A run
   * that closed is let go as its end is read, so what the read holds is bounded by the open
   * runs, as a decider's memory is, not by all the runs the partition ever held. A run asked
   * for that the read did not find never began there.
   */
  private async readWhole(
    partition: number,
    wanted: ReadonlySet<string>,
  ): Promise<Map<string, HistoryEvent[]>> {
    const found = new Map<string, HistoryEvent[]>();
    await readHistoryPartitions(
      this.kafka,
      this.topic,
      [partition],
      (_, event) => {
        const id = event.workflowId;
        const list = found.get(id);
        if (list) list.push(event);
        else found.set(id, [event]);
        const end = endStatus(event.body.type);
        if (end !== undefined && end !== "continued" && !wanted.has(id)) found.delete(id);
      },
      this.log,
      // However long a large partition takes, as long as it moves: a read given up on would
      // start again from its first record at the next ask.
      WHOLE_READ_MAX_MS,
      WHOLE_READ_STALL_MS,
    );
    for (const [workflowId, events] of found) {
      // A later run under an ID whose earlier one closed here is held only from its start.
      if (!wanted.has(workflowId) && events[0]!.seq !== 1) continue;
      this.merge(workflowId, events);
      this.complete.add(workflowId);
      if (endStatus(events[events.length - 1]!.body.type) !== undefined)
        this.ended.set(workflowId, true);
    }
    if (this.runs.size > this.maxRuns) this.letGo();
    return found;
  }

  /** Events read ahead of the tail into the run's list, in seq order, each once. */
  private merge(workflowId: string, events: readonly HistoryEvent[]): void {
    const known = this.runs.get(workflowId) ?? [];
    const lastKnown = known[known.length - 1]?.seq ?? 0;
    const bySeq = new Map<number, HistoryEvent>();
    for (const event of [...events, ...known]) bySeq.set(event.seq, event);
    this.runs.set(
      workflowId,
      [...bySeq.values()].sort((x, y) => x.seq - y.seq),
    );
    // The tail will pass these over as already held: their listeners hear of them here.
    for (const event of events)
      if (event.seq > lastKnown)
        for (const listener of this.listeners.get(workflowId) ?? []) listener(event);
  }

  private record(event: HistoryEvent): void {
    let list = this.runs.get(event.workflowId);
    if (!list) {
      list = [];
      this.runs.set(event.workflowId, list);
      // A run whose first event is read here is held whole.
      if (this.from === "now" && event.seq === 1) this.complete.add(event.workflowId);
    }
    // A restarted consumer reads from where it stood again: keep each event once.
    if (list.length > 0 && event.seq <= list[list.length - 1]!.seq) return;
    list.push(event);
    for (const listener of this.listeners.get(event.workflowId) ?? []) listener(event);
    if (this.from !== "now") return;
    if (endStatus(event.body.type) !== undefined) this.ended.set(event.workflowId, true);
    if (this.runs.size > this.maxRuns) this.letGo();
  }

  /**
   * Lets the runs go that ended longest ago, while more than `maxRuns` are held, except those
   * a call waits on. Asked for again, they are read again.
   */
  private letGo(): void {
    for (const workflowId of this.ended.keys()) {
      if (this.runs.size <= this.maxRuns) return;
      this.ended.delete(workflowId);
      if ((this.listeners.get(workflowId)?.size ?? 0) > 0) continue;
      this.runs.delete(workflowId);
      this.complete.delete(workflowId);
    }
  }

  async close(): Promise<void> {
    await this.read?.close();
    this.read = undefined;
    await this.written.close();
    await this.admin?.disconnect();
    this.admin = undefined;
    this.adminConnected = undefined;
  }

  private async run(): Promise<void> {
    await this.beginAtEnds();
    this.read = await topicReader(this.kafka).follow({
      topic: this.topic,
      // From "now", where beginAtEnds put the tail; else every partition from its first record.
      from: this.from === "now" ? new Map(this.position) : "beginning",
      onBatch: ({ partition, messages, next }) => {
        for (const message of messages) {
          let event: HistoryEvent;
          try {
            event = historyCodec.decode(message.value, message.headers);
          } catch (err) {
            this.log.error({ offset: message.offset, err }, "undecodable history record skipped");
            continue;
          }
          this.record(event);
        }
        if (next <= (this.position.get(partition) ?? 0n)) return;
        this.position.set(partition, next);
        this.moved();
      },
    });
  }
}
