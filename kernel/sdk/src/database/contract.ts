// The behaviour every Database implementation must have, written once. `open` gives a connection
// to a fresh, empty database; `reopen` (optional) a second connection to the same one.
import { DatabaseError, type Database, type MigrationSet } from "./types";

const LEDGER: MigrationSet = {
  namespace: "contract",
  migrations: [
    {
      id: "001_accounts",
      sql: `CREATE TABLE accounts (id text PRIMARY KEY, balance int8 NOT NULL DEFAULT 0);
            CREATE TABLE entries (id serial PRIMARY KEY, account text NOT NULL REFERENCES accounts(id), amount int8 NOT NULL);`,
    },
    { id: "002_account_meta", sql: "ALTER TABLE accounts ADD COLUMN meta jsonb NOT NULL DEFAULT '{}'::jsonb;" },
  ],
};

export interface DatabaseContractFactory {
  open(): Promise<Database>;
}

export function describeDatabaseContract(name: string, factory: DatabaseContractFactory): void {
  describe(`Database contract: ${name}`, () => {
    let db: Database;
    beforeEach(async () => {
      db = await factory.open();
    });
    afterEach(async () => {
      await db.close();
    });

    test("query with parameters round-trips every supported type the same way", async () => {
      const when = new Date("2026-01-02T03:04:05.678Z");
      const [row] = await db.query(
        `SELECT $1::int4 AS i4, $2::int8 AS i8, $3::float8 AS f8, $4::numeric AS num, $5::text AS txt, $6::bool AS flag,
                $7::jsonb AS doc, $8::bytea AS bin, $9::timestamptz AS at, $10::int4[] AS ints, $11::text AS nothing,
                count(*) AS n`,
        [7, 9007199254740991, 1.5, "12345678901234567890.5", "héllo", true, { a: [1, "x"] }, Buffer.from([0, 255]), when, [1, 2, 3], null],
      );
      expect(row).toEqual({
        i4: 7,
        i8: 9007199254740991,
        f8: 1.5,
        num: "12345678901234567890.5",
        txt: "héllo",
        flag: true,
        doc: { a: [1, "x"] },
        bin: Buffer.from([0, 255]),
        at: when,
        ints: [1, 2, 3],
        nothing: null,
        n: 1,
      });
      expect(Buffer.isBuffer(row!.bin)).toBe(true);
    });

    test("an int8 beyond 2^53 is refused, not rounded", async () => {
      await expect(db.query("SELECT 9007199254740993::int8 AS big")).rejects.toMatchObject({ code: "22003" });
      expect(await db.query("SELECT 9007199254740993::int8::text AS big")).toEqual([{ big: "9007199254740993" }]);
    });

    test("SQL errors are DatabaseErrors with the SQLSTATE", async () => {
      await expect(db.query("SELECT * FROM no_such_table")).rejects.toBeInstanceOf(DatabaseError);
      await expect(db.query("SELECT * FROM no_such_table")).rejects.toMatchObject({ code: "42P01" });
      await expect(db.exec("CREATE TABLE t (x int); CREATE TABLE t (x int);")).rejects.toMatchObject({ code: "42P07" });
    });

    test("migrate applies once, records per namespace, and refuses edited migrations", async () => {
      expect(await db.migrate(LEDGER)).toEqual(["001_accounts", "002_account_meta"]);
      expect(await db.migrate(LEDGER)).toEqual([]);
      const more: MigrationSet = {
        ...LEDGER,
        migrations: [...LEDGER.migrations, { id: "003_index", sql: "CREATE INDEX entries_account ON entries (account);" }],
      };
      expect(await db.migrate(more)).toEqual(["003_index"]);
      // Another namespace has its own history, even with the same ids.
      expect(await db.migrate({ namespace: "other", migrations: [{ id: "001_accounts", sql: "CREATE TABLE other_t (x int);" }] })).toEqual([
        "001_accounts",
      ]);
      const edited: MigrationSet = { ...more, migrations: more.migrations.map((m, i) => (i === 0 ? { ...m, sql: `${m.sql} ` } : m)) };
      await expect(db.migrate(edited)).rejects.toThrow(/changed after it was applied/);
      await expect(db.migrate(LEDGER)).rejects.toThrow(/does not know/);
      await expect(db.migrate({ namespace: "Bad Name", migrations: [] })).rejects.toThrow(/namespace/);
      await expect(db.migrate({ namespace: "x", migrations: [{ id: "init", sql: "" }] })).rejects.toThrow(/migration id/);
    });

    test("a failing migration leaves nothing applied", async () => {
      const broken: MigrationSet = {
        namespace: "broken",
        migrations: [
          { id: "001_ok", sql: "CREATE TABLE half_done (x int);" },
          { id: "002_fails", sql: "CREATE TABLE half_done (x int);" },
        ],
      };
      await expect(db.migrate(broken)).rejects.toMatchObject({ code: "42P07" });
      expect(await db.query("SELECT to_regclass('half_done') AS t")).toEqual([{ t: null }]);
      expect(await db.migrate({ ...broken, migrations: broken.migrations.slice(0, 1) })).toEqual(["001_ok"]);
    });

    test("transaction commits on success and rolls back on error", async () => {
      await db.migrate(LEDGER);
      await db.transaction(async (tx) => {
        await tx.query("INSERT INTO accounts (id, balance) VALUES ($1, $2)", ["alice", 10]);
        await tx.query("INSERT INTO entries (account, amount) VALUES ($1, $2)", ["alice", 10]);
      });
      await expect(
        db.transaction(async (tx) => {
          await tx.query("UPDATE accounts SET balance = balance + 5 WHERE id = $1", ["alice"]);
          await tx.query("INSERT INTO entries (account, amount) VALUES ($1, $2)", ["bob", 5]);
        }),
      ).rejects.toMatchObject({ code: "23503" });
      await expect(
        db.transaction(async (tx) => {
          await tx.query("UPDATE accounts SET balance = 0");
          throw new Error("business rule");
        }),
      ).rejects.toThrow("business rule");
      expect(await db.query("SELECT id, balance, meta FROM accounts")).toEqual([{ id: "alice", balance: 10, meta: {} }]);
      expect(await db.transaction(async (tx) => (await tx.query<{ n: number }>("SELECT count(*) AS n FROM entries"))[0]!.n)).toBe(1);
    });

    test("unique violations carry the constraint name; concurrent increments are not lost", async () => {
      await db.migrate(LEDGER);
      await db.query("INSERT INTO accounts (id) VALUES ($1)", ["carol"]);
      await expect(db.query("INSERT INTO accounts (id) VALUES ($1)", ["carol"])).rejects.toMatchObject({
        code: "23505",
        constraint: "accounts_pkey",
      });
      await Promise.all(
        Array.from({ length: 20 }, () =>
          db.transaction((tx) => tx.query("UPDATE accounts SET balance = balance + 1 WHERE id = $1", ["carol"])),
        ),
      );
      expect(await db.query("SELECT balance FROM accounts WHERE id = 'carol'")).toEqual([{ balance: 20 }]);
    });
  });
}
