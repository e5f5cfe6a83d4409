/**
 * The roles a Weft process can play. A module of its own, so that the CLI can name them
 * without loading the roles themselves.
 */
export const ROLES = ["decider", "worker", "projector", "api", "trigger"] as const;
export type Role = (typeof ROLES)[number];
/** What a process plays when not told: the projector needs PostgreSQL, so it is asked for. */
export const DEFAULT_ROLES: readonly Role[] = ["decider", "worker"];
