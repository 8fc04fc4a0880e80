import { openPglite } from "./pglite";
import { openPostgres } from "./postgres";
import type { Database, DatabaseConfig } from "./types";

export * from "./types";
export { loadMigrations } from "./migrate";

/** Opens the database the configuration names. */
export function createDatabase(config: DatabaseConfig): Promise<Database> {
  return config.kind === "pglite" ? openPglite(config) : openPostgres(config);
}
