import type { IResolvers } from "mercurius";
import type { TriggerDefinition } from "../triggers/definition";
import { summarizeTriggers } from "../triggers/trigger-catalog";
import type { TriggerCounters } from "../triggers/trigger-counters";

/** Appended to the schema: the triggers this API's process defines (docs/triggers.md). */
export const triggerSchema = /* GraphQL */ `
  enum TriggerKind {
    KAFKA
    WEBHOOK
  }

  enum TriggerAction {
    START
    SIGNAL
    SIGNAL_WITH_START
  }

  type Trigger {
    name: String!
    kind: TriggerKind!
    "The topic of a Kafka trigger, or the path of a webhook (/hooks/<name>)."
    source: String!
    "json or avro (Kafka triggers)."
    format: String
    action: TriggerAction!
    workflowType: String
    signal: String
    "Where a run's workflow ID comes from: key, delivery, or field:<path>."
    workflowId: String!
    "Commands produced by this API process since it started (webhooks; Kafka triggers count in the process that runs them)."
    accepted: Int!
    "Deliveries refused (webhooks) or records sent to the DLQ, likewise."
    refused: Int!
  }

  extend type Query {
    "The triggers this API's process defines (the module it loaded), in definition order."
    triggers: [Trigger!]!
  }
`;

export function createTriggerResolvers(options: {
  triggers: readonly TriggerDefinition[];
  counters: TriggerCounters;
}): IResolvers {
  return {
    Query: {
      triggers: () => summarizeTriggers(options.triggers, options.counters),
    },
  };
}
