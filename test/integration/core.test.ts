import { coreScenarios } from "./core-scenarios";

coreScenarios();
