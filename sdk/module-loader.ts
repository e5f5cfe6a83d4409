import { resolve } from "node:path";
import { ConfigError } from "../core/errors";
import type { TriggerDefinition } from "../triggers/definition";
import type { AnyStepDefinition, AnyWorkflowDefinition } from "../workflow/definitions";

export interface LoadedModule {
  workflows: AnyWorkflowDefinition[];
  steps: AnyStepDefinition[];
  triggers: TriggerDefinition[];
}

/**
 * Loads a user's module and collects every exported workflow, step and trigger definition (also inside
 * exported arrays or objects). TypeScript modules load through tsx.
 */
export function loadDefinitions(modulePath: string): LoadedModule {
  const absolute = resolve(modulePath);
  try {
    require.resolve(absolute);
  } catch {
    throw new ConfigError(
      `module ${JSON.stringify(modulePath)} not found (looked for ${absolute})`,
    );
  }
  if (/\.[cm]?tsx?$/.test(absolute)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tsx = require("tsx/cjs/api") as { register(): void };
    tsx.register();
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exported = require(absolute) as Record<string, unknown>;
  const found: LoadedModule = { workflows: [], steps: [], triggers: [] };
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number) => {
    if (value === null || typeof value !== "object" || seen.has(value) || depth > 3) return;
    seen.add(value);
    const kind = (value as { kind?: unknown }).kind;
    if (kind === "workflow") found.workflows.push(value as AnyWorkflowDefinition);
    else if (kind === "step") found.steps.push(value as AnyStepDefinition);
    else if (kind === "trigger") found.triggers.push(value as TriggerDefinition);
    else for (const v of Array.isArray(value) ? value : Object.values(value)) visit(v, depth + 1);
  };
  visit(exported, 0);
  return found;
}
