import { execFileSync } from "node:child_process";
import { join } from "node:path";

/**
 * Integration tests run against a real Kafka broker, PostgreSQL and Redis. Unless the caller
 * points at its own (KAFKA_BROKERS / REDIS_URL / DATABASE_URL), start the local ones.
 */
export default function globalSetup(): void {
  if (process.env.KAFKA_BROKERS && process.env.REDIS_URL) return;
  execFileSync("bash", [join(__dirname, "..", "..", "infra", "infra.sh"), "up"], {
    stdio: "inherit",
  });
}
