// PostgreSQL server through a `pg` connection pool.
import pg from "pg";
import { runMigrations } from "./migrate";
import type { Database, MigrationSet, PostgresDatabaseConfig, Queryable, Row, SqlValue } from "./types";
import { COLUMN_PARSERS, translateErrors } from "./values";

const getTypeParser = ((oid: number, format?: "text" | "binary") =>
  COLUMN_PARSERS[oid] ?? pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser;

function queryable(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    query: <T extends object = Row>(sql: string, params: readonly SqlValue[] = []) =>
      translateErrors(async () => (await client.query<T & pg.QueryResultRow>(sql, [...params])).rows),
    exec: (sql: string) => translateErrors(async () => void (await client.query(sql))),
  };
}

export async function openPostgres(config: PostgresDatabaseConfig): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.maxConnections ?? 10,
    types: { getTypeParser },
  });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on("error", () => undefined);
  await translateErrors(() => pool.query("SELECT 1"));
  const session = queryable(pool);
  const database: Database = {
    kind: "postgres",
    query: session.query,
    exec: session.exec,
    async transaction(fn) {
      const client = await translateErrors(() => pool.connect());
      try {
        await client.query("BEGIN");
        const result = await fn(queryable(client));
        await translateErrors(() => client.query("COMMIT"));
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    migrate: (set: MigrationSet) => runMigrations(database, set),
    close: () => pool.end(),
  };
  return database;
}
