#!/usr/bin/env node
// In a checkout (sources present) the TypeScript runs through tsx, so a stale build never
// answers for the code; an installed package without sources runs the compiled CLI.
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const sources = join(__dirname, "..", "cli", "weft.ts");
const compiled = join(__dirname, "..", "dist", "cli", "weft.js");
let tsx;
try {
  tsx = existsSync(sources) ? require.resolve("tsx/cjs/api") : undefined;
} catch {
  tsx = undefined;
}
if (tsx) {
  require(tsx).register();
  require(sources);
} else {
  require(compiled);
}
