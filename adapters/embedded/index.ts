export { EmbeddedKafka, type EmbeddedKafkaOptions } from "./embedded-kafka";
export { EmbeddedLogError } from "./errors";
export { EmbeddedLog, FIRST_SEGMENT, LEGACY_LOG_FILE, segmentFile, type SyncMode } from "./log";
export type { LogDamage } from "./log-scan";
export { repairLog, type LogRepair } from "./repair";
