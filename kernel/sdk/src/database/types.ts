// The SQL database every plugin keeps its metadata in: PGlite (PostgreSQL compiled to WASM, in
// process, persisted in a folder) by default, a PostgreSQL server at scale. Same SQL, same results.

/** A value a query parameter may take. Objects and arrays of objects are sent as JSON. */
export type SqlValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Date
  | Uint8Array
  | readonly SqlValue[]
  | { readonly [key: string]: unknown };

/**
 * Column values come back as: int2/int4/int8/float → number (an int8 beyond 2^53 is an error:
 * use numeric), numeric → string, bool → boolean, text → string, json/jsonb → parsed value,
 * bytea → Buffer, timestamptz → Date, arrays → arrays, NULL → null.
 */
export type Row = Record<string, unknown>;

export interface Queryable {
  /** One statement with $1.. placeholders. */
  query<T extends object = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Several statements separated by ';', without parameters (schema scripts). */
  exec(sql: string): Promise<void>;
}

export interface Migration {
  /** File name without ".sql", starting with its number: "001_create_datanets". */
  id: string;
  sql: string;
}

/** The migrations of one owner (a plugin, the kernel); each namespace is versioned on its own. */
export interface MigrationSet {
  namespace: string;
  migrations: readonly Migration[];
}

export interface Database extends Queryable {
  readonly kind: "pglite" | "postgres";
  /** Runs fn in one transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Applies the set's migrations not applied yet, in order, in one transaction; returns their ids. */
  migrate(set: MigrationSet): Promise<string[]>;
  close(): Promise<void>;
}

/** A failed statement. `code` is the PostgreSQL SQLSTATE (23505 unique violation, 42P01 ...). */
export class DatabaseError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly constraint?: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = "DatabaseError";
  }
}

export interface PgliteDatabaseConfig {
  kind: "pglite";
  /** Folder the data lives in; omitted = in memory (tests). */
  dir?: string;
}

export interface PostgresDatabaseConfig {
  kind: "postgres";
  /** postgres://user:password@host:port/database */
  url: string;
  /** Pool size; default 10. */
  maxConnections?: number;
}

export type DatabaseConfig = PgliteDatabaseConfig | PostgresDatabaseConfig;
