import { basename, dirname } from "node:path";

/**
 * Weft's own package directory, where its package.json, schemas/, migrations/, examples/ and
 * built dashboard (dashboard/dist) are: the parent of this folder from the sources
 * (`<root>/core`), two up from the build (`<root>/dist/core`), in a checkout or installed under
 * a user's node_modules alike.
 */
export function packageRoot(): string {
  const parent = dirname(__dirname);
  return basename(parent) === "dist" ? dirname(parent) : parent;
}
