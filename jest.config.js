/** Integration tests share one broker, PostgreSQL and Redis (started by `npm run infra:up`). */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest"] },
  testTimeout: 120000,
  globalSetup: "<rootDir>/test/support/global-setup.ts",
};
