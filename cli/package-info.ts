import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../core/package-root";

export interface WeftPackage {
  /** What a user's package.json names to depend on Weft. */
  name: string;
  version: string;
}

/** This Weft's name and version, from its own package.json. */
export function weftPackage(): WeftPackage {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
    name: string;
    version: string;
  };
  return { name: manifest.name, version: manifest.version };
}
