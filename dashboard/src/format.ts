/** Number and time formatting shared by every page. */

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(abs < 10_000 ? 1 : 0)} s`;
  if (abs < 3_600_000) {
    const m = Math.floor(abs / 60_000);
    const s = Math.floor((abs % 60_000) / 1000);
    return `${m} min ${s} s`;
  }
  if (abs < 86_400_000) {
    const h = Math.floor(abs / 3_600_000);
    const m = Math.floor((abs % 3_600_000) / 60_000);
    return `${h} h ${m} min`;
  }
  const d = Math.floor(abs / 86_400_000);
  const h = Math.floor((abs % 86_400_000) / 3_600_000);
  return `${d} d ${h} h`;
}

/** "12 s ago", "in 3 min 4 s", "just now". */
export function formatRelative(iso: string, now: number): string {
  const delta = Date.parse(iso) - now;
  if (Number.isNaN(delta)) return iso;
  if (Math.abs(delta) < 1000) return "just now";
  const text = formatDuration(Math.abs(delta)).replace(/(\d+)\.\d s/, "$1 s");
  return delta < 0 ? `${text} ago` : `in ${text}`;
}

export function formatAbsolute(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toLocaleString()} (${date.toISOString()})`;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** The message of a step or workflow error as the engine records it (`{ message, code, … }`). */
export function errorMessage(error: unknown): string {
  if (error == null) return "";
  if (typeof error === "string") return error;
  const e = error as { message?: unknown; reason?: unknown; code?: unknown };
  if (typeof e.message === "string") return e.message;
  if (typeof e.reason === "string") return e.reason;
  if (typeof e.code === "string") return e.code;
  return JSON.stringify(error);
}

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export function errorStack(error: unknown): string | undefined {
  const stack = (error as { stack?: unknown } | null)?.stack;
  return typeof stack === "string" && stack !== "" ? stack : undefined;
}

export function errorName(error: unknown): string | undefined {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === "string" && name !== "" ? name : undefined;
}
