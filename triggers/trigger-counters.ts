/**
 * What each trigger of this process did since it started: commands it produced and deliveries
 * it refused (Kafka: sent to the DLQ; webhooks: answered 4xx). Kept in memory only, for the
 * `triggers` query and the dashboard; the durable record is the commands and weft.dlq.
 */
export interface TriggerCount {
  accepted: number;
  refused: number;
}

export class TriggerCounters {
  private readonly counts = new Map<string, TriggerCount>();

  accepted(trigger: string, n = 1): void {
    this.of(trigger).accepted += n;
  }

  refused(trigger: string, n = 1): void {
    this.of(trigger).refused += n;
  }

  get(trigger: string): Readonly<TriggerCount> {
    return { ...(this.counts.get(trigger) ?? { accepted: 0, refused: 0 }) };
  }

  private of(trigger: string): TriggerCount {
    let count = this.counts.get(trigger);
    if (!count) this.counts.set(trigger, (count = { accepted: 0, refused: 0 }));
    return count;
  }
}
