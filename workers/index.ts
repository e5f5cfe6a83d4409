export { Worker, type WorkerOptions } from "./worker";
export { workerKeys } from "./redis-keys";
