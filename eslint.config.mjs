import js from "@eslint/js";
import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";
import prettier from "eslint-config-prettier";

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "dashboard/dist/**",
      "dashboard/vite.config.mts",
      "node_modules/**",
      ".infra/**",
      "coverage/**",
      "bin/**",
      "*.js",
      "*.mjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "import-x": importX },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          // node:test's test()/it() return a promise the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/only-throw-error": "off",
      "import-x/no-cycle": "error",
    },
  },
  {
    // Workflow code runs inside deterministic replay: no I/O, no clocks, no transports.
    files: ["workflow/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["node:*", "fs", "net", "http", "child_process", "crypto"],
              message: "workflow/ runs inside replay and must not do I/O",
            },
            {
              group: [
                "kafkajs",
                "ioredis",
                "redlock",
                "pg",
                "pino",
                "**/transport/**",
                "**/adapters/**",
                "**/deciders/**",
                "**/workers/**",
                "**/producers/**",
              ],
              message: "workflow/ must not reach transports or roles",
            },
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        { name: "setTimeout", message: "use ctx.wait" },
        { name: "setInterval", message: "use ctx.wait" },
      ],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "use ctx.now()" },
        { object: "Math", property: "random", message: "use ctx.random()" },
      ],
    },
  },
  {
    // The roles speak to the log through the transport port; what is particular to a client
    // (kafkajs's protocol, its workarounds) lives in its adapter, built by the backends.
    files: [
      "deciders/**/*.ts",
      "workers/**/*.ts",
      "projections/**/*.ts",
      "triggers/**/*.ts",
      "producers/**/*.ts",
    ],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["kafkajs", "**/adapters/kafka/**", "**/adapters/embedded/**"],
              allowTypeImports: true,
              message: "roles reach the log through transport/port.ts; clients live in adapters/",
            },
          ],
        },
      ],
    },
  },
  {
    // The dashboard runs in the browser: it reaches Weft through the GraphQL API only.
    files: ["dashboard/**/*.ts", "dashboard/**/*.tsx"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [
                "node:*",
                "**/core/**",
                "**/schemas/**",
                "**/transport/**",
                "**/adapters/**",
                "**/producers/**",
                "**/deciders/**",
                "**/workers/**",
                "**/workflow/**",
                "**/sdk/**",
                "**/projections/**",
                "**/graphql/**",
              ],
              message: "the dashboard talks to Weft through the GraphQL API, not its modules",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  {
    // Plain CommonJS config files (examples/pm2): linted as JavaScript, without type information.
    files: ["**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: "commonjs",
      globals: { module: "writable", require: "readonly", process: "readonly" },
    },
  },
  prettier,
);
