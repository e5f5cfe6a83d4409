/** How `weft replay workflows` words a run whose state the new code sets differently. */
import { verdictLine, type RunVerdict } from "../../cli/replay/replay-runs";

it("names the run, the StateUpdated event and both states", () => {
  const verdict: RunVerdict = {
    workflowId: "approvals-1",
    workflowType: "approvals",
    runStartSeq: 1,
    startedAt: "2026-12-04T00:00:00.000Z",
    events: 9,
    verdict: "diverged",
    divergence: {
      kind: "state",
      eventSeq: 6,
      eventType: "StateUpdated",
      event: "StateUpdated",
      position: null,
      expected: '{"approvals":1}',
      found: '{"count":1}',
      message: "",
      runStartSeq: 1,
      source: null,
      sourceCall: null,
    },
  };
  expect(verdictLine(verdict)).toBe(
    'approvals-1 (approvals, run from seq 1, started 2026-12-04T00:00:00.000Z): event 6 StateUpdated: history records the state {"approvals":1}, the code now sets {"count":1}',
  );
});
