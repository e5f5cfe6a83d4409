/** Headless Chromium for the dashboard's browser tests and benchmark, and the built dashboard. */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { chromium, type Browser } from "playwright-core";

/** The repository: from the sources (test/dashboard) or compiled (dist/test/dashboard). */
function repoRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "dashboard", "index.html"))) return dir;
  }
  throw new Error(`no dashboard/ above ${__dirname}`);
}

const ROOT = repoRoot();
const DASHBOARD = join(ROOT, "dashboard");

/** Debian's Chromium (`apt-get install chromium`, done by `infra.sh up`), or CHROMIUM_PATH. */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  for (const candidate of candidates) if (candidate && existsSync(candidate)) return candidate;
  throw new Error(
    "Chromium not found: run `bash infra/infra.sh up --only chromium` (apt-get install chromium) or set CHROMIUM_PATH",
  );
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-default-apps",
      "--no-first-run",
      "--disable-dev-shm-usage",
      // Lets the benchmark read the page's heap (performance.memory) with real numbers.
      "--enable-precise-memory-info",
    ],
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds the dashboard when dist is missing or older than its sources. */
export function ensureDashboardBuilt(): void {
  const index = join(DASHBOARD, "dist", "index.html");
  const sources = Math.max(
    newestMtime(join(DASHBOARD, "src")),
    statSync(join(DASHBOARD, "index.html")).mtimeMs,
    statSync(join(DASHBOARD, "vite.config.mts")).mtimeMs,
  );
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  execFileSync(
    process.execPath,
    [
      join(ROOT, "node_modules", "vite", "bin", "vite.js"),
      "build",
      DASHBOARD,
      "--configLoader",
      "runner",
    ],
    {
      cwd: ROOT,
      stdio: "pipe",
    },
  );
}
