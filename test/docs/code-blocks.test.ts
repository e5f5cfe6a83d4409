/**
 * The docs hold to the code. Every ```ts block of every Markdown page type-checks under the
 * repository's strict options; the README's and docs/testing.md's test-kit examples run; every
 * `npm run X` names a script of package.json (or of the project `weft init` makes), every
 * `weft …` a command and options the CLI has (from `weft … --help`); every relative link reaches
 * a file, and its #anchor a heading.
 *
 * How a block compiles: blocks of README.md and docs/ are files of a user's project, where
 * `@weft-engine/weft` is the package and `./signup` is the signup example `weft init` writes
 * beside them (examples/signup.ts). `<!-- file: workflows/x.ts -->` before a block makes it that
 * file of its page's project (a later block imports it as `./x`); `<!-- fragment -->` leaves a
 * block out. Blocks of the folder READMEs compile at the repository root, as the sources do.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize, relative } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { scaffold } from "../../cli/commands/init";
import {
  anchors,
  codeBlocks,
  markdownPages,
  npmScripts,
  proseLines,
  relativeLinks,
  ROOT,
  weftInvocations,
  type CodeBlock,
} from "./markdown";

const run = promisify(execFile);
const pages = markdownPages();
const blocks = pages.flatMap(codeBlocks);
const TS = new Set(["ts", "typescript"]);
const SHELL = new Set(["bash", "sh", "shell", "console"]);
const signupExample = readFileSync(join(ROOT, "examples", "signup.ts"), "utf8");

/** Whether a page documents the user's side (its blocks are files of a user's project). */
const isUserPage = (page: string) => page === "README.md" || page.startsWith("docs/");

/** Where each TypeScript block of a page compiles, as virtual files (path → text). */
function projectOf(page: string): Map<string, { text: string; block?: CodeBlock }> {
  const files = new Map<string, { text: string; block?: CodeBlock }>();
  const slug = page.replace(/[^\w.-]/g, "_");
  const base = join(ROOT, ".doc-blocks", slug);
  if (isUserPage(page)) files.set(join(base, "workflows", "signup.ts"), { text: signupExample });
  for (const block of codeBlocks(page)) {
    if (!TS.has(block.lang) || block.fragment) continue;
    const path = isUserPage(page)
      ? join(base, block.file ?? join("workflows", `doc-block-${block.line}.ts`))
      : join(ROOT, `.doc-block-${slug}-${block.line}.ts`);
    // A block with no import or export would be a script sharing one global scope.
    const text = /^\s*(import|export)\s/m.test(block.code)
      ? block.code
      : `${block.code}\nexport {};`;
    files.set(path, { text, block });
  }
  return files;
}

function typeCheck(files: Map<string, { text: string; block?: CodeBlock }>): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  if (!config) throw new Error("tsconfig.json could not be read");
  expect(config.options.strict).toBe(true);
  const options = { ...config.options, noEmit: true };
  const real = ts.createCompilerHost(options);
  const virtual = (path: string) => files.get(normalize(path))?.text;
  const host: ts.CompilerHost = {
    ...real,
    fileExists: (path) => virtual(path) !== undefined || real.fileExists(path),
    readFile: (path) => virtual(path) ?? real.readFile(path),
    directoryExists: (path) =>
      [...files.keys()].some((file) => file.startsWith(normalize(path))) ||
      ts.sys.directoryExists(path),
    getSourceFile: (path, language, onError, fresh) => {
      const text = virtual(path);
      return text !== undefined
        ? ts.createSourceFile(path, text, language, true)
        : real.getSourceFile(path, language, onError, fresh);
    },
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const diagnostics = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  for (const path of files.keys()) {
    const source = program.getSourceFile(path);
    if (!source) throw new Error(`${path} was not compiled`);
    diagnostics.push(
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    );
  }
  return diagnostics.map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    const origin = d.file ? files.get(normalize(d.file.fileName)) : undefined;
    if (!d.file || !origin) return `TS${d.code}: ${message}`;
    const line = d.file.getLineAndCharacterOfPosition(d.start ?? 0).line;
    const where = origin.block
      ? `${origin.block.page}:${origin.block.line + line}`
      : `${relative(ROOT, d.file.fileName)}:${line + 1}`;
    return `${where} TS${d.code}: ${message}`;
  });
}

describe("TypeScript in the docs", () => {
  const tsBlocks = blocks.filter((b) => TS.has(b.lang));

  it("has blocks, and none is a fragment (every one compiles as it stands)", () => {
    expect(tsBlocks.length).toBeGreaterThan(5);
    expect(tsBlocks.filter((b) => b.fragment).map((b) => `${b.page}:${b.line}`)).toEqual([]);
  });

  it("type-checks every block under the repository's strict options", () => {
    const files = new Map<string, { text: string; block?: CodeBlock }>();
    for (const page of pages) for (const [path, file] of projectOf(page)) files.set(path, file);
    expect(typeCheck(files)).toEqual([]);
  });

  // The test-kit examples run as a user runs them: node's test runner, TypeScript through tsx.
  it.each(pages.filter((page) => codeBlocks(page).some((b) => b.file?.endsWith(".test.ts"))))(
    "runs the tests of %s",
    async (page) => {
      const dir = mkdtempSync(join(tmpdir(), "weft-doc-blocks-"));
      try {
        const base = join(ROOT, ".doc-blocks", page.replace(/[^\w.-]/g, "_"));
        const tests: string[] = [];
        for (const [path, { text }] of projectOf(page)) {
          const file = join(dir, relative(base, path));
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, text);
          if (file.endsWith(".test.ts")) tests.push(file);
        }
        const { stdout } = await run(process.execPath, ["--import", "tsx", "--test", ...tests], {
          cwd: ROOT,
          timeout: 90_000,
        }).catch((err: { stdout?: string; stderr?: string }) => {
          throw new Error(`node --test failed:\n${err.stdout ?? ""}\n${err.stderr ?? ""}`);
        });
        expect(stdout).toMatch(/^# fail 0$/m);
        expect(stdout).not.toMatch(/^# pass 0$/m);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

/** Inline code spans of the prose, and every line of the shell blocks. */
function commandLines(): { where: string; text: string }[] {
  const lines: { where: string; text: string }[] = [];
  for (const block of blocks.filter((b) => SHELL.has(b.lang))) {
    block.code
      .split("\n")
      .forEach((text, i) => lines.push({ where: `${block.page}:${block.line + i}`, text }));
  }
  for (const page of pages) {
    proseLines(page).forEach((line, i) => {
      for (const span of line.matchAll(/`([^`]+)`/g)) {
        lines.push({ where: `${page}:${i + 1}`, text: span[1] ?? "" });
      }
    });
  }
  return lines;
}

describe("commands in the docs", () => {
  const lines = commandLines();

  it("names only npm scripts that package.json has", () => {
    const scriptsOf = (manifest: string) =>
      Object.keys((JSON.parse(manifest) as { scripts: Record<string, string> }).scripts);
    // Weft's own, and those of a project `weft init` makes (`cd my-app && npm run dev`).
    const made = scaffold({ name: "my-app", weftSpec: "*" })["package.json"] ?? "{}";
    const scripts = new Set([
      ...scriptsOf(readFileSync(join(ROOT, "package.json"), "utf8")),
      ...scriptsOf(made),
    ]);
    const named = lines.flatMap(({ where, text }) =>
      npmScripts(text).map((script) => ({ where, script })),
    );
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter(({ script }) => !scripts.has(script))).toEqual([]);
  });

  it("names only weft commands and options that the CLI has", async () => {
    const help = helpReader();
    const calls = lines.flatMap(({ where, text }) =>
      weftInvocations(text).map((args) => ({ where, args })),
    );
    expect(calls.length).toBeGreaterThan(10);
    const problems = await Promise.all(
      calls.map(({ where, args }) => checkCall(help, where, args)),
    );
    expect(problems.flat()).toEqual([]);
  });
});

interface Help {
  commands: Set<string>;
  options: Set<string>;
}

/** `weft <path…> --help`, read once per path, at most four at a time. */
function helpReader(): (path: string[]) => Promise<Help> {
  const cache = new Map<string, Promise<Help>>();
  let running = 0;
  const queue: (() => void)[] = [];
  const slot = async () => {
    if (running >= 4) await new Promise<void>((resolve) => queue.push(resolve));
    running++;
  };
  const release = () => {
    running--;
    queue.shift()?.();
  };
  return (path) => {
    const key = path.join(" ");
    let help = cache.get(key);
    if (!help) {
      help = (async () => {
        await slot();
        try {
          const { stdout } = await run(process.execPath, ["bin/weft.js", ...path, "--help"], {
            cwd: ROOT,
            timeout: 60_000,
          });
          return parseHelp(stdout);
        } finally {
          release();
        }
      })();
      cache.set(key, help);
    }
    return help;
  };
}

/** Commander's help: the `Commands:` names (but `help`) and every flag under `Options:`. */
function parseHelp(text: string): Help {
  const help: Help = { commands: new Set(), options: new Set() };
  let section = "";
  for (const line of text.split("\n")) {
    if (/^\S.*:$/.test(line)) section = line;
    const entry = /^ {2}(\S.*?)(?: {2,}|$)/.exec(line)?.[1];
    if (entry === undefined) continue;
    if (section === "Options:")
      for (const m of entry.matchAll(/--?[\w-]+/g)) help.options.add(m[0]);
    if (section === "Commands:") {
      const name = entry.split(" ")[0] ?? "";
      if (name !== "help") help.commands.add(name);
    }
  }
  return help;
}

async function checkCall(
  help: (path: string[]) => Promise<Help>,
  where: string,
  args: string[],
): Promise<string[]> {
  // Table syntax: `[--roles a,b]`, `[module]`, `…`.
  const words = args
    .map((w) => w.replace(/^\[+|\]+$/g, ""))
    .filter((w) => !/^(…|\.\.\.)?$/.test(w));
  const path: string[] = [];
  const problems: string[] = [];
  let level = await help(path);
  for (const word of words) {
    if (word.startsWith("<")) {
      if (level.commands.size > 0) return []; // `weft <command> --help`: a placeholder
      continue;
    }
    if (word.startsWith("-")) {
      const flag = word.split("=")[0] ?? word;
      if (!level.options.has(flag))
        problems.push(`${where}: weft ${[...path, flag].join(" ")}: no such option`);
      continue;
    }
    if (level.commands.size === 0) continue; // an argument
    if (!level.commands.has(word)) {
      problems.push(`${where}: weft ${[...path, word].join(" ")}: no such command`);
      return problems;
    }
    path.push(word);
    level = await help(path);
  }
  return problems;
}

describe("links in the docs", () => {
  it("reach a file, and a heading of it when they name one", () => {
    const broken: string[] = [];
    for (const link of pages.flatMap(relativeLinks)) {
      const [target = "", anchor] = link.target.split("#");
      const file = target === "" ? join(ROOT, link.page) : join(ROOT, dirname(link.page), target);
      if (!existsSync(file)) broken.push(`${link.page}:${link.line}: ${link.target}: no such file`);
      else if (anchor !== undefined && file.endsWith(".md")) {
        if (!anchors(relative(ROOT, file)).has(anchor)) {
          broken.push(`${link.page}:${link.line}: ${link.target}: no such heading`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
