/**
 * Type tests of the public API (test/types/public-api.ts, written with expect-type): compiled
 * under the repository's strict options; any diagnostic, including an `@ts-expect-error` that
 * no longer meets an error, fails the test with the compiler's message.
 */
import { join } from "node:path";
import ts from "typescript";

const ROOT = join(__dirname, "..", "..");

function compile(file: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  if (!config) throw new Error("tsconfig.json could not be read");
  expect(config.options.strict).toBe(true);
  const program = ts.createProgram([file], { ...config.options, noEmit: true });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file
      ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
      : "";
    return `${where} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
}

it("ctx.step, the client and the test kit type-check as the type tests say", () => {
  expect(compile(join(ROOT, "test", "types", "public-api.ts"))).toEqual([]);
});
