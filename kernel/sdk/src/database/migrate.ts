// One migration runner for both implementations. Applied migrations are recorded per namespace in
// ol_schema_migrations with a checksum, so a migration edited after it ran is detected.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Database, Migration, MigrationSet, Queryable } from "./types";

const NAMESPACE = /^[a-z][a-z0-9_-]{0,62}$/;
const MIGRATION_ID = /^(\d+)[_-][A-Za-z0-9_.-]+$/;
/** Serializes concurrent migrate() calls (several processes starting at once). */
const MIGRATION_LOCK_KEY = 0x6f6c6d67;

function checksum(sql: string): string {
  return createHash("sha256").update(sql).digest("hex");
}

function validate(set: MigrationSet): void {
  if (!NAMESPACE.test(set.namespace)) {
    throw new Error(`bad migration namespace ${JSON.stringify(set.namespace)}: want [a-z][a-z0-9_-]{0,62}`);
  }
  const seen = new Set<string>();
  let previous = -1;
  for (const { id } of set.migrations) {
    const match = MIGRATION_ID.exec(id);
    if (!match) throw new Error(`bad migration id ${JSON.stringify(id)}: want <number>_<name>`);
    const number = Number(match[1]);
    if (seen.has(id) || number <= previous) {
      throw new Error(`migration ${id} of ${set.namespace} is out of order or repeated`);
    }
    seen.add(id);
    previous = number;
  }
}

/** Reads `<number>_<name>.sql` files from a folder, ordered by number. */
export async function loadMigrations(namespace: string, dir: string): Promise<MigrationSet> {
  const files = (await readdir(dir)).filter((name) => name.endsWith(".sql"));
  const migrations: Migration[] = [];
  for (const file of files) {
    migrations.push({ id: file.slice(0, -".sql".length), sql: await readFile(join(dir, file), "utf8") });
  }
  migrations.sort((a, b) => Number(MIGRATION_ID.exec(a.id)?.[1] ?? NaN) - Number(MIGRATION_ID.exec(b.id)?.[1] ?? NaN));
  const set = { namespace, migrations };
  validate(set);
  return set;
}

export async function runMigrations(db: Pick<Database, "transaction">, set: MigrationSet): Promise<string[]> {
  validate(set);
  return db.transaction(async (tx: Queryable) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS ol_schema_migrations (
      namespace text NOT NULL,
      id text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (namespace, id))`);
    const rows = await tx.query<{ id: string; checksum: string }>(
      "SELECT id, checksum FROM ol_schema_migrations WHERE namespace = $1",
      [set.namespace],
    );
    const applied = new Map(rows.map((row) => [row.id, row.checksum]));
    const known = new Set(set.migrations.map((m) => m.id));
    for (const id of applied.keys()) {
      if (!known.has(id)) {
        throw new Error(`database has migration ${set.namespace}/${id} that this code does not know (newer version?)`);
      }
    }
    const ran: string[] = [];
    for (const migration of set.migrations) {
      const sum = checksum(migration.sql);
      const recorded = applied.get(migration.id);
      if (recorded !== undefined) {
        if (recorded !== sum) throw new Error(`migration ${set.namespace}/${migration.id} was changed after it was applied`);
        continue;
      }
      await tx.exec(migration.sql);
      await tx.query("INSERT INTO ol_schema_migrations (namespace, id, checksum) VALUES ($1, $2, $3)", [
        set.namespace,
        migration.id,
        sum,
      ]);
      ran.push(migration.id);
    }
    return ran;
  });
}
