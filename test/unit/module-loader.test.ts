import { ConfigError } from "../../core/errors";
import { loadDefinitions } from "../../sdk/module-loader";

it("a module that does not exist is a clear INVALID_CONFIG error naming the path", () => {
  expect(() => loadDefinitions("no/such/module.ts")).toThrow(ConfigError);
  expect(() => loadDefinitions("no/such/module.ts")).toThrow(
    /module "no\/such\/module.ts" not found/,
  );
});

it("collects the definitions a module exports", () => {
  const { workflows, steps } = loadDefinitions("examples/signup.ts");
  expect(workflows.map((w) => w.name)).toEqual(["userSignupFlow"]);
  expect(steps.map((s) => s.name).sort()).toEqual(["sendFollowupEmail", "sendWelcomeEmail"]);
});
