/** An append-only file of lines that ignores writes after it was closed (late callbacks). */
import { createWriteStream } from "node:fs";

export interface LineFile {
  write(line: string): void;
  close(): Promise<void>;
}

export function lineFile(path: string): LineFile {
  const stream = createWriteStream(path, { flags: "a" });
  let open = true;
  return {
    write(line) {
      if (open) stream.write(`${line}\n`);
    },
    close() {
      if (!open) return Promise.resolve();
      open = false;
      return new Promise((resolve) => stream.end(resolve));
    },
  };
}
