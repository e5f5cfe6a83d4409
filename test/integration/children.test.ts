/** Child workflows on the real broker (children-scenario.ts). */
import { topics } from "../../core/config";
import { CommandProducer } from "../../producers/command-producer";
import { carefulParent, familySteps, familyWorkflows } from "../fixtures/children";
import { isolatedConfig, waitFor } from "../support/env";
import { startTestWeft } from "../support/weft";
import { childrenScenario } from "./children-scenario";

const config = isolatedConfig();

childrenScenario("kafka", async () => {
  const weft = await startTestWeft(config, { workflows: familyWorkflows, steps: familySteps });
  return { client: weft.client, stop: () => weft.stop() };
});

it("leaves no command backlog: the deciders commit past the commit markers their commands leave", async () => {
  const weft = await startTestWeft(config, { workflows: familyWorkflows, steps: familySteps });
  const commands = new CommandProducer(weft.transport, config);
  try {
    await commands.connect();
    // The child's start and its report travel in decider transactions, each leaving a marker.
    const { workflowId } = await weft.client.start(carefulParent, { input: { fail: false } });
    expect(await weft.client.result(workflowId, { timeoutMs: 30_000 })).toEqual({ doubled: 42 });
    const ids = [workflowId, `${workflowId}/1`];
    await waitFor("each partition of the two runs committed to its end", async () => {
      for (const id of ids) {
        const { partition, end } = await commands.partitionEnd(id);
        const committed = await commands.committedOffset(topics.deciderGroup(config), partition);
        if (committed !== end) return false;
      }
      return true;
    });
  } finally {
    await commands.close();
    await weft.stop();
  }
});
