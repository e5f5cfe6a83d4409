/**
 * A recorded error's stack, split into the user's own frames and Weft's: the dashboard shows
 * the user's frames and folds Weft's behind a toggle. Pure: no DOM, no React.
 *
 * A frame is Weft's when its file is
 * - inside Weft's package as installed: `…/node_modules/@weft-engine/weft/…`;
 * - in one of Weft's source folders (`workers/`, `deciders/`, `workflow/`, `sdk/`, `core/`,
 *   `transport/`, `adapters/`, or the same under `dist/`) of a Weft checkout. A checkout is recognised by the
 *   files every step or run failure passes through (`workers/step-runner`, `workflow/execution`,
 *   …): a user's own `workers/` folder elsewhere stays the user's;
 * - Node's own (`node:internal/…`, `node:events`, …).
 */

export type FrameKind = "user" | "weft";

export interface StackLine {
  text: string;
  kind: FrameKind;
}

/** Lines in the order of the stack: a run of the user's frames, or a run of Weft's. */
export interface StackGroup {
  kind: FrameKind;
  lines: string[];
}

export interface SplitStack {
  /** What the stack says before its first frame, unless it only repeats `name: message`. */
  header: string[];
  groups: StackGroup[];
  userFrames: number;
  weftFrames: number;
}

const PACKAGE = "/node_modules/@weft-engine/weft/";
const FOLDERS = ["workers", "deciders", "workflow", "sdk", "core", "transport", "adapters"];
/** Files of a Weft checkout that a failure's stack runs through. */
const SIGNATURES = [
  "workers/step-runner",
  "workers/task-consumer",
  "workers/worker",
  "workflow/execution",
  "deciders/decider",
  "deciders/run",
  "sdk/runtime",
  "sdk/embedded",
  "sdk/client",
  "adapters/kafka/client",
];
const SIGNATURE = new RegExp(
  `^(.*?)/(?:dist/)?(?:${SIGNATURES.join("|")})\\.(?:ts|js|mjs|cjs|tsx)(?::\\d+)*$`,
);

/** `at …` (V8) or `fn@file` (Firefox, Safari). */
export function isFrame(line: string): boolean {
  return /^\s*at\s/.test(line) || /^[^\s@]*@\S+:\d+:\d+$/.test(line.trim());
}

/** The file a frame names, `/`-separated and without `file://`, or undefined (`<anonymous>`). */
export function framePath(line: string): string | undefined {
  const trimmed = line.trim();
  let location: string | undefined;
  const paren = /\(([^()]*)\)\s*$/.exec(trimmed);
  if (paren) location = paren[1];
  else if (/^at\s/.test(trimmed)) location = trimmed.replace(/^at\s+(?:async\s+)?/, "");
  else if (trimmed.includes("@")) location = trimmed.slice(trimmed.lastIndexOf("@") + 1);
  if (!location) return undefined;
  location = location.replace(/^file:\/\//, "").replace(/\\/g, "/");
  if (/^[A-Za-z]:\//.test(location)) location = `/${location}`;
  return location;
}

/** The folders that hold a Weft checkout, as the stack's own frames show them. */
export function weftRoots(lines: readonly string[]): string[] {
  const roots = new Set<string>();
  for (const line of lines) {
    if (!isFrame(line)) continue;
    const path = framePath(line);
    const match = path ? SIGNATURE.exec(path) : null;
    if (match && match[1] !== undefined && !match[1].includes("/node_modules/"))
      roots.add(match[1]);
  }
  return [...roots];
}

/** Whether a frame line is Weft's (or Node's) rather than the user's. */
export function isWeftFrame(line: string, roots: readonly string[] = []): boolean {
  const path = framePath(line);
  if (!path) return false;
  if (path.startsWith("node:")) return true;
  if (path.includes(PACKAGE)) return true;
  for (const root of roots) {
    for (const folder of FOLDERS) {
      if (path.startsWith(`${root}/${folder}/`) || path.startsWith(`${root}/dist/${folder}/`))
        return true;
    }
  }
  return false;
}

/** Each line of the stack after its header, with whose it is. */
export function classifyStack(stack: string): { header: string[]; lines: StackLine[] } {
  const all = stack.replace(/\r\n/g, "\n").split("\n");
  const first = all.findIndex(isFrame);
  const header = first === -1 ? all : all.slice(0, first);
  const rest = first === -1 ? [] : all.slice(first).filter((l) => l.trim() !== "");
  const roots = weftRoots(rest);
  const kinds = rest.map((text): FrameKind | "neutral" =>
    !isFrame(text)
      ? "user"
      : isNeutral(text)
        ? "neutral"
        : isWeftFrame(text, roots)
          ? "weft"
          : "user",
  );
  // A frame without a file (`new Promise (<anonymous>)`, `Promise.all (index 0)`) between
  // Weft's frames, or after the last of them, is Weft's too; elsewhere the user's.
  const lines = rest.map((text, i): StackLine => {
    const kind = kinds[i]!;
    if (kind !== "neutral") return { text, kind };
    const before = kinds
      .slice(0, i)
      .reverse()
      .find((k) => k !== "neutral");
    const after = kinds.slice(i + 1).find((k) => k !== "neutral");
    return { text, kind: before === "weft" && (after ?? "weft") === "weft" ? "weft" : "user" };
  });
  return { header, lines };
}

/** A frame that names no file: `<anonymous>`, `index 0`, `native`. */
function isNeutral(line: string): boolean {
  const path = framePath(line);
  return path === undefined || !/[/:]/.test(path) || path === "<anonymous>";
}

/**
 * The stack to show under an error's name and message: runs of the user's frames, runs of
 * Weft's, and the header only when it says more than `name: message`.
 */
export function splitStack(stack: string, error?: { name?: string; message?: string }): SplitStack {
  const { header, lines } = classifyStack(stack);
  const said = header.join("\n").trim();
  const name = error?.name ?? "";
  const message = error?.message ?? "";
  const redundant =
    said === "" ||
    said === `${name}: ${message}` ||
    said === message ||
    (message === "" && said === name) ||
    // Error subclasses that keep "Error" as their stack's name.
    said === `Error: ${message}`;
  const groups: StackGroup[] = [];
  for (const line of lines) {
    const last = groups[groups.length - 1];
    if (last && last.kind === line.kind) last.lines.push(line.text);
    else groups.push({ kind: line.kind, lines: [line.text] });
  }
  return {
    header: redundant ? [] : header,
    groups,
    userFrames: lines.filter((l) => l.kind === "user" && isFrame(l.text)).length,
    weftFrames: lines.filter((l) => l.kind === "weft").length,
  };
}
