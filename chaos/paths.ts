/*
 * Where the suite finds Weft. `npm run chaos` compiles first and runs from dist/: the roles then
 * run the compiled CLI, as an installed Weft does, and a role restarted after a kill starts as
 * fast as one would in production. From the sources (`node --import tsx chaos/run.ts`) they run
 * through bin/weft.js, which loads the TypeScript with tsx.
 */
import { join } from "node:path";

const COMPILED = __filename.endsWith(".js");

/** The repository: the roles' working directory, and where .chaos/ and infra/ are. */
export const ROOT = COMPILED ? join(__dirname, "..", "..") : join(__dirname, "..");
/** The CLI the roles run. */
export const WEFT_CLI = COMPILED
  ? join(__dirname, "..", "cli", "weft.js")
  : join(ROOT, "bin", "weft.js");
/** The module of workflows and steps the roles host. */
export const WORKFLOWS_MODULE = join(__dirname, COMPILED ? "workflows.js" : "workflows.ts");
