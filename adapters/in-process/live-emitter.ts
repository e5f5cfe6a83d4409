import mqemitter from "mqemitter";
import type { LiveEmitter } from "../../projections/live-changes";

/** An emitter within this process: the projector and API of embedded mode share one. */
export function createInProcessLiveEmitter(): LiveEmitter {
  return mqemitter({ concurrency: 100 });
}
