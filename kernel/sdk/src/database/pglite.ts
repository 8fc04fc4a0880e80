// PGlite: PostgreSQL in process (WASM), one connection, persisted in a folder.
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { runMigrations } from "./migrate";
import type { Database, MigrationSet, PgliteDatabaseConfig, Queryable, Row, SqlValue } from "./types";
import { COLUMN_PARSERS, translateErrors } from "./values";

type PgliteSession = Pick<Transaction, "query" | "exec">;

function queryable(session: PgliteSession): Queryable {
  return {
    query: <T extends object = Row>(sql: string, params: readonly SqlValue[] = []) =>
      translateErrors(async () => (await session.query<T>(sql, [...params])).rows),
    exec: (sql: string) => translateErrors(async () => void (await session.exec(sql))),
  };
}

export async function openPglite(config: PgliteDatabaseConfig): Promise<Database> {
  const db = await PGlite.create(config.dir, { parsers: { ...COLUMN_PARSERS } });
  const session = queryable(db);
  const database: Database = {
    kind: "pglite",
    query: session.query,
    exec: session.exec,
    transaction: (fn) => translateErrors(() => db.transaction((tx) => fn(queryable(tx)))),
    migrate: (set: MigrationSet) => runMigrations(database, set),
    close: () => db.close(),
  };
  return database;
}
