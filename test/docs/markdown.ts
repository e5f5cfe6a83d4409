/**
 * What the docs tests read from Markdown: fenced code blocks (with the HTML comment that marks
 * one, if any), links, headings as GitHub anchors them, and the shell commands in a line.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

export const ROOT = join(__dirname, "..", "..");

export interface CodeBlock {
  /** The page, relative to the repository root. */
  page: string;
  /** 1-based line of the block's first line of code (after the opening fence). */
  line: number;
  lang: string;
  code: string;
  /**
   * The marker on the last non-blank line before the fence: `<!-- file: workflows/x.ts -->`
   * names the file a block is (so others can import it), `<!-- fragment -->` says it is not
   * meant to compile on its own.
   */
  file?: string;
  fragment: boolean;
}

export interface Link {
  page: string;
  line: number;
  target: string;
}

/** README.md, docs/*.md and the folder READMEs: every Markdown file of the repository. */
export function markdownPages(): string[] {
  const pages: string[] = [];
  const skip = new Set(["node_modules", "dist", "coverage"]);
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || skip.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".md")) pages.push(relative(ROOT, path));
    }
  };
  walk(ROOT);
  return pages.sort();
}

export function readPage(page: string): string {
  return readFileSync(join(ROOT, page), "utf8");
}

/** Every fenced block of a page, in order. */
export function codeBlocks(page: string): CodeBlock[] {
  const lines = readPage(page).split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i] ?? "");
    if (!open) continue;
    const fence = open[2] ?? "```";
    let end = i + 1;
    while (end < lines.length && !(lines[end] ?? "").trim().startsWith(fence)) end++;
    let before = i - 1;
    while (before >= 0 && (lines[before] ?? "").trim() === "") before--;
    const marker = /^<!--\s*(file:\s*(\S+)|fragment)\s*-->$/.exec((lines[before] ?? "").trim());
    blocks.push({
      page,
      line: i + 2,
      lang: (open[3] ?? "").toLowerCase(),
      code: lines.slice(i + 1, end).join("\n"),
      file: marker?.[2],
      fragment: marker?.[1] === "fragment",
    });
    i = end;
  }
  return blocks;
}

/** The page's text outside fenced blocks, line by line (fenced lines blanked). */
export function proseLines(page: string): string[] {
  const lines = readPage(page).split("\n");
  let fence: string | undefined;
  return lines.map((line) => {
    const mark = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (mark !== undefined && line.trim().startsWith(fence)) fence = undefined;
      return "";
    }
    if (mark !== undefined) {
      fence = mark;
      return "";
    }
    return line;
  });
}

/** Inline links and images whose target is not a URL with a scheme or a mail address. */
export function relativeLinks(page: string): Link[] {
  const links: Link[] = [];
  proseLines(page).forEach((text, index) => {
    const line = text.replace(/`[^`]*`/g, "``");
    for (const m of line.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1] ?? "";
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      links.push({ page, line: index + 1, target });
    }
  });
  return links;
}

/** The anchors GitHub gives a page's headings (`## Signals: request IDs` → `signals-request-ids`). */
export function anchors(page: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of proseLines(page)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

/** Splits a shell command line into words: quotes group, `#` starts a comment. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const ch of line) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else word = (word ?? "") + ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= "";
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === "#" && word === undefined) {
      break;
    } else {
      word = (word ?? "") + ch;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * The `weft` invocations in a command line (also through `npx weft`, `npx @weft-engine/weft`
 * and `node bin/weft.js`), each as the words after the program's name, up to a `|`, `;`, `&&`
 * or `||`.
 */
export function weftInvocations(line: string): string[][] {
  const calls: string[][] = [];
  const words = shellWords(line);
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? "";
    const prev = words[i - 1];
    const isWeft =
      (w === "weft" && (i === 0 || prev === "npx" || isSeparator(prev) || prev === "--")) ||
      (w === "@weft-engine/weft" && prev === "npx") ||
      (w === "bin/weft.js" && prev === "node");
    if (!isWeft) continue;
    const args: string[] = [];
    for (let j = i + 1; j < words.length && !isSeparator(words[j]); j++) args.push(words[j] ?? "");
    calls.push(args);
  }
  return calls;
}

/** The scripts an `npm run X`, `npm start` or `npm test` in a line names. */
export function npmScripts(line: string): string[] {
  const scripts: string[] = [];
  for (const m of line.matchAll(/\bnpm\s+(?:run(?:-script)?\s+([\w:.-]+)|(start|test)\b)/g)) {
    scripts.push(m[1] ?? m[2] ?? "");
  }
  return scripts;
}

function isSeparator(word: string | undefined): boolean {
  return word === "|" || word === ";" || word === "&&" || word === "||" || word === "&";
}
