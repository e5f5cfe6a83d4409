/** Integration tests share one broker, PostgreSQL and Redis (started by `npm run infra:up`). */
module.exports = {
  // Node's, deleting the Kafka topics each test file made once it is done.
  testEnvironment: "<rootDir>/test/support/topic-cleanup-environment.ts",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // Examples import Weft by its package name, as a user does; here that is the sources.
  moduleNameMapper: {
    "^@weft-engine/weft$": "<rootDir>/sdk/index.ts",
    "^@weft-engine/weft/testing$": "<rootDir>/sdk/testing.ts",
    "^@weft-engine/weft/eslint$": "<rootDir>/sdk/eslint.ts",
  },
  transform: { "^.+\\.ts$": ["@swc/jest"], "^.+\\.js$": ["@swc/jest"] },
  // ESM-only packages that mercurius and fastify inject() load (require(esm), import()), and
  // Kysely (the read models' query builder):
  // Jest cannot load them untransformed.
  transformIgnorePatterns: [
    "/node_modules/(?!(mercurius|quick-lru|content-disposition|cookie|kysely)/)",
  ],
  testTimeout: 120000,
  // Exit once every test has run, even if a test file left a socket open: one run of the suite
  // hung after 1,164 of 1,164 passed, on a broker connection the Kafka adapter's admin opened
  // after its disconnect (fixed; test/integration/admin-disconnect.test.ts). Kept, so that a
  // connection left open elsewhere cannot hold the run until CI's limit.
  forceExit: true,
  globalSetup: "<rootDir>/test/support/global-setup.ts",
};
