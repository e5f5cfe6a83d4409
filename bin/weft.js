#!/usr/bin/env node
// Runs the compiled CLI when built, else the TypeScript sources through tsx.
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const compiled = join(__dirname, "..", "dist", "cli", "weft.js");
if (existsSync(compiled)) {
  require(compiled);
} else {
  require("tsx/cjs/api").register();
  require(join(__dirname, "..", "cli", "weft.ts"));
}
