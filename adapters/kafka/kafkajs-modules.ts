/**
 * kafkajs's internal modules that Weft's own requests build on (its encoder and decoders, a
 * request version's encoder and response parser), loaded from the kafkajs install Weft uses.
 */
import { createRequire } from "node:module";

/** Loads a module of kafkajs by its path in the package (`./src/protocol/decoder`). */
export const kafkajsModule = createRequire(require.resolve("kafkajs"));

/**
 * Loads a version of a kafkajs request (`kafkajsRequestVersion("fetch", "v11/response")`) the
 * way kafkajs loads it: from the request's folder, by the same relative name. kafkajs requires
 * it again each time it builds that request (`require("./v11/request")` inside the call), and
 * Node answers such a repeat from a cache keyed by the requiring folder and the name, filled by
 * the first load from that folder only. Loaded first from kafkajs's root, under another name,
 * it left kafkajs's every fetch resolving the path in full (package.json reads, path joins):
 * about 1 % of a decider and worker process's time.
 */
export function kafkajsRequestVersion(request: string, file: string): unknown {
  const index = kafkajsModule.resolve(`./src/protocol/requests/${request}/index.js`);
  return createRequire(index)(`./${file}`);
}
