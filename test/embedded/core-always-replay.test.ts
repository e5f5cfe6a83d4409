/** The core scenarios on the embedded adapters with no execution cache (see core-always-replay). */
import { coreScenarios } from "../integration/core-scenarios";

coreScenarios({ executionCacheSize: 0 }, "embedded");
