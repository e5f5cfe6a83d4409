/**
 * The core scenarios with no execution cache: every event replays the run's whole history
 * through its code first, so any replay divergence in the engine shows up here.
 */
import { coreScenarios } from "./core-scenarios";

coreScenarios({ executionCacheSize: 0 });
