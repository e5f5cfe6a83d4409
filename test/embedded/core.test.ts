/**
 * The core scenarios on the embedded adapters: the embedded log, in-process leases, no Kafka
 * and no Redis. The same scenarios as test/integration/core.test.ts.
 */
import { coreScenarios } from "../integration/core-scenarios";

coreScenarios({}, "embedded");
