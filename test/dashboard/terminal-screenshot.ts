/**
 * Renders a terminal capture (text with ANSI colours) to a PNG with headless Chromium: how
 * docs/weft-dev-terminal.png is made. Run by hand, not by the tests:
 *
 *   tmux new-session -d -s dev -x 150 -y 50 'npx weft dev examples/signup.ts'
 *   (start a run or two from another terminal, wait for them to complete)
 *   tmux capture-pane -p -e -J -S - -t dev > capture.ans
 *   npx tsx test/dashboard/terminal-screenshot.ts capture.ans docs/weft-dev-terminal.png \
 *     '$ npx weft dev examples/signup.ts'
 *
 * The third argument, when given, is shown as the command line above the output;
 * TERMINAL_COLUMNS (default 150) is the width the capture was made at.
 */
import { readFileSync } from "node:fs";
import { launchBrowser } from "./browser";

/** The 16 colours of a dark terminal, close to the dashboard's palette. */
const COLOURS = [
  "#0b1016",
  "#ef4444",
  "#22c55e",
  "#f59e0b",
  "#3b82f6",
  "#a78bfa",
  "#38bdf8",
  "#d7dee8",
  "#8593a6",
  "#f87171",
  "#4ade80",
  "#fcd34d",
  "#7cb4ff",
  "#c4b5fd",
  "#7dd3fc",
  "#ffffff",
];

interface Style {
  fg?: string;
  bg?: string;
  bold: boolean;
  dim: boolean;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function apply(style: Style, codes: number[]): Style {
  const next = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i]!;
    if (code === 0) Object.assign(next, { fg: undefined, bg: undefined, bold: false, dim: false });
    else if (code === 1) next.bold = true;
    else if (code === 2) next.dim = true;
    else if (code === 22) Object.assign(next, { bold: false, dim: false });
    else if (code >= 30 && code <= 37) next.fg = COLOURS[code - 30];
    else if (code >= 90 && code <= 97) next.fg = COLOURS[code - 90 + 8];
    else if (code === 39) next.fg = undefined;
    else if (code >= 40 && code <= 47) next.bg = COLOURS[code - 40];
    else if (code === 49) next.bg = undefined;
    else if ((code === 38 || code === 48) && codes[i + 1] === 5) i += 2;
    else if ((code === 38 || code === 48) && codes[i + 1] === 2) i += 4;
  }
  return next;
}

/** ANSI SGR sequences to spans; every other escape sequence is dropped. */
export function ansiToHtml(text: string): string {
  let style: Style = { bold: false, dim: false };
  let html = "";
  // eslint-disable-next-line no-control-regex -- ANSI escape sequences start with ESC.
  const pattern = /\x1b\[([0-9;]*)([A-Za-z])/g;
  let last = 0;
  const emit = (chunk: string) => {
    if (chunk === "") return;
    const css = [
      style.fg ? `color:${style.fg}` : "",
      style.bg ? `background:${style.bg}` : "",
      style.bold ? "font-weight:700" : "",
      style.dim ? "opacity:0.6" : "",
    ].filter(Boolean);
    html += css.length
      ? `<span style="${css.join(";")}">${escapeHtml(chunk)}</span>`
      : escapeHtml(chunk);
  };
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    emit(text.slice(last, match.index));
    last = pattern.lastIndex;
    if (match[2] === "m")
      style = apply(
        style,
        (match[1] || "0").split(";").map((n) => Number(n || "0")),
      );
  }
  emit(text.slice(last));
  return html;
}

async function main(): Promise<void> {
  const [input, output, command] = process.argv.slice(2);
  // As wide as the terminal the capture came from (tmux -x 150).
  const columns = Number(process.env.TERMINAL_COLUMNS ?? 150);
  if (!input || !output) {
    process.stderr.write("usage: terminal-screenshot.ts <capture.ans> <out.png> [command]\n");
    process.exit(2);
  }
  const text = readFileSync(input, "utf8").replace(/\s+$/, "");
  const prompt = command ? `<span style="color:#4ade80">${escapeHtml(command)}</span>\n` : "";
  const html = `<!doctype html><meta charset="utf-8"><style>
    body { margin: 0; background: #0f141b; }
    .window { display: inline-block; margin: 16px; border: 1px solid #273241; border-radius: 8px;
      background: #0b1016; box-shadow: 0 8px 24px #0008; }
    .bar { height: 26px; border-bottom: 1px solid #273241; display: flex; gap: 7px;
      align-items: center; padding: 0 10px; }
    .bar i { width: 11px; height: 11px; border-radius: 50%; background: #273241; }
    pre { margin: 0; padding: 12px 16px 16px; color: #d7dee8; font: 12.5px/1.5
      "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace; white-space: pre-wrap;
      width: ${columns}ch; }
  </style><div class="window"><div class="bar"><i></i><i></i><i></i></div><pre>${prompt}${ansiToHtml(text)}</pre></div>`;
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({
      viewport: { width: 1600, height: 900 },
      deviceScaleFactor: 1,
    });
    await page.setContent(html);
    await page.locator(".window").screenshot({ path: output });
  } finally {
    await browser.close();
  }
}

if (require.main === module) void main();
