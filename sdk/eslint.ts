/**
 * ESLint rules for workflow code (`@weft-engine/weft/eslint`), for a flat config:
 *
 * ```js
 * // eslint.config.mjs
 * import { workflowDeterminism, workflowFiles } from "@weft-engine/weft/eslint";
 * export default [
 *   // …your own configs…
 *   workflowDeterminism,                   // inside defineWorkflow(...) bodies, in any file
 *   workflowFiles(["src/workflows/**"]),   // or: whole files that hold workflow code only
 * ];
 * ```
 *
 * They catch at lint time what the sandbox handles at run time (docs/workflows.md#determinism):
 * the clock, randomness and timers of the process, and I/O. Both configs use ESLint's core
 * `no-restricted-syntax` rule (no plugin to install). ESLint does not merge the options of one
 * rule across config objects: a later object's `no-restricted-syntax` replaces an earlier
 * one's for the files both match. If you use that rule yourself, spread
 * `workflowRestrictions` (or `fileRestrictions`) into your own entry instead.
 */

/** One banned construct: an esquery selector and the message ESLint reports. */
export interface RestrictedSyntax {
  readonly selector: string;
  readonly message: string;
}

/** A flat-config object (a subset of ESLint's `Linter.Config`, so no ESLint types are needed). */
export interface WorkflowLintConfig {
  name: string;
  files?: string[];
  rules: { "no-restricted-syntax": ["error", ...RestrictedSyntax[]] };
}

const WHY = "it differs on replay";

/** What workflow code must not reach, anywhere it appears. */
const BANNED: readonly RestrictedSyntax[] = [
  {
    selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
    message: `Math.random() in workflow code: ${WHY}; use ctx.random() (or ctx.uuid()).`,
  },
  {
    selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
    message: `Date.now() in workflow code: ${WHY}; use ctx.now().`,
  },
  {
    selector: "NewExpression[callee.name='Date'][arguments.length=0]",
    message: `new Date() in workflow code: ${WHY}; use new Date(ctx.now()).`,
  },
  {
    selector: "CallExpression[callee.name='Date']",
    message: `Date() in workflow code: ${WHY}; use new Date(ctx.now()).toString().`,
  },
  {
    selector: "CallExpression[callee.object.name='performance'][callee.property.name='now']",
    message: `performance.now() in workflow code: ${WHY}; use ctx.now().`,
  },
  {
    selector: "CallExpression[callee.property.name=/^(randomUUID|getRandomValues|randomBytes)$/]",
    message: `random bytes or IDs in workflow code: ${WHY}; use ctx.uuid() or ctx.random().`,
  },
  {
    selector:
      "CallExpression:matches([callee.name=/^(setTimeout|setInterval|setImmediate)$/], [callee.object.name=/^(globalThis|window|global)$/][callee.property.name=/^(setTimeout|setInterval|setImmediate)$/])",
    message:
      "A timer of the process in workflow code is not durable and parks the run (NON_DETERMINISTIC_AWAIT); use ctx.sleep(ms).",
  },
  {
    selector: "CallExpression[callee.name='fetch']",
    message:
      "I/O in workflow code is not replayed and parks the run (NON_DETERMINISTIC_AWAIT); do it in a step: ctx.step(…).",
  },
];

/** The call whose function arguments are workflow code: `defineWorkflow(…)`, `weft.defineWorkflow(…)`. */
const IN_WORKFLOW =
  ":matches(CallExpression[callee.name='defineWorkflow'], CallExpression[callee.property.name='defineWorkflow'])";

/** The bans, inside the arguments of `defineWorkflow(…)` calls only (steps may do all of it). */
export const workflowRestrictions: readonly RestrictedSyntax[] = BANNED.map((b) => ({
  selector: `${IN_WORKFLOW} ${b.selector}`,
  message: b.message,
}));

/** The bans, anywhere in a file (for files that hold workflow code and nothing else). */
export const fileRestrictions: readonly RestrictedSyntax[] = BANNED;

/**
 * For every file your config lints: flags the bans inside `defineWorkflow(…)` bodies only, so
 * steps defined in the same file keep their clocks, timers and I/O. A helper function
 * declared outside the call and called from it is not checked: keep such helpers in files
 * under `workflowFiles`.
 */
export const workflowDeterminism: WorkflowLintConfig = {
  name: "@weft-engine/weft/workflow-determinism",
  rules: { "no-restricted-syntax": ["error", ...workflowRestrictions] },
};

/** For files that hold workflow code only (and its helpers): flags the bans anywhere in them. */
export function workflowFiles(files: readonly string[]): WorkflowLintConfig {
  if (files.length === 0 || files.some((f) => typeof f !== "string"))
    throw new TypeError("workflowFiles: give the glob patterns of your workflow files");
  return {
    name: "@weft-engine/weft/workflow-files",
    files: [...files],
    rules: { "no-restricted-syntax": ["error", ...fileRestrictions] },
  };
}
