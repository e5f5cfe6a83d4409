import type { Command } from "commander";
import { DEFAULT_EMBEDDED_DIR } from "../../sdk/embedded-dir";
import type * as EmbeddedLog from "../../adapters/embedded";
import type { LogRepair } from "../../adapters/embedded";
import { fail, print } from "../output";

/** Exit code when the log has damage in the middle and it was not repaired (no --truncate). */
const NOT_REPAIRED = 2;

export function registerRepair(program: Command): void {
  program
    .command("repair")
    .description(
      "check the embedded log in <dir> (default .weft) and say what is wrong with it; with --truncate, keep every byte after its last good frame aside in a file next to it and cut the log there. Exit 2 when it found damage in the middle and did not cut it, else 0. Stop weft dev on the directory first",
    )
    .argument("[dir]", "the embedded directory", DEFAULT_EMBEDDED_DIR)
    .option(
      "--truncate",
      "cut the log at its last good frame (the bytes after it are kept aside, never deleted)",
    )
    .option("--json", "print JSON")
    .action(async (dir: string, opts: { truncate?: boolean; json?: boolean }) => {
      try {
        // Loaded here: `weft start` registers every command but loads only its own code.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { repairLog } = require("../../adapters/embedded") as typeof EmbeddedLog;
        const report = await repairLog(dir, { truncate: opts.truncate });
        print(report, opts, () => describe(dir, report));
        if (report.damage?.kind === "corrupt" && !report.keptAside) process.exitCode = NOT_REPAIRED;
      } catch (err) {
        fail(err);
      }
    });
}

/** What a person reads: what the file holds, what is wrong, what was done or can be. */
function describe(dir: string, r: LogRepair): string {
  const lines = [
    `${r.file}: ${r.size} bytes, ${r.frames} good frame(s) up to byte ${r.validEnd}` +
      (r.logId ? `, log ID ${r.logId}` : ""),
  ];
  const damage = r.damage;
  if (!damage) {
    lines.push("nothing wrong");
    return lines.join("\n");
  }
  if (damage.kind === "torn") {
    lines.push(
      `its last frame (${damage.bytes} bytes at byte ${damage.offset}) ${damage.fault}, and nothing follows it: a write cut short by a crash. ` +
        "The next start drops it by itself and keeps its bytes aside.",
    );
  } else {
    lines.push(
      `corrupt at byte ${damage.offset}: the frame there ${damage.fault}; ${damage.bytes} bytes from there to the end` +
        (damage.nextFrame === undefined
          ? ", more than that frame spans"
          : `, with ${damage.framesAfter} valid frame(s) from byte ${damage.nextFrame} on`) +
        ". Weft refuses to start on this log.",
    );
  }
  if (r.keptAside) {
    lines.push(
      `repaired: the ${damage.bytes} bytes from byte ${damage.offset} on are kept in ${r.keptAside}; the log is cut there and has a new log ID, ${r.newLogId}. ` +
        "What was recorded after that point is lost; at the next start the read models are rebuilt and the workers' done-markers dropped.",
    );
  } else if (damage.kind === "corrupt") {
    lines.push(
      `not repaired: \`weft repair ${dir} --truncate\` keeps those bytes aside in a file next to the log and cuts the log at byte ${damage.offset} ` +
        "(what was recorded after that point is lost; the read models are rebuilt at the next start). Or restore the log from a backup.",
    );
  }
  return lines.join("\n");
}
