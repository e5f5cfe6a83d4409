import type { WeftConfig } from "../../core/config";
import { spawnRoles, type RoleProcess } from "./processes";

/** A projector in a child process (role-process.ts with the projector role), on config's database. */
export function spawnProjector(config: WeftConfig): Promise<RoleProcess> {
  return spawnRoles(config, "projector", { DATABASE_URL: config.databaseUrl });
}
