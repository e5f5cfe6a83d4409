export { Worker, type WorkerOptions } from "./worker";
export { workerKeys } from "../adapters/redis/keys";
