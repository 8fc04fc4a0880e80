// The database contract against PGlite (in process) and a real PostgreSQL 15 server.
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPostgres, type PostgresServer } from "../testing/postgres";
import { describeDatabaseContract } from "./contract";
import { createDatabase, loadMigrations } from "./index";

let root: string;
/** An initialized, empty PGlite folder: copying it is ~10x faster than a fresh initdb per test. */
let pgliteTemplate: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "ol-database-test-"));
  pgliteTemplate = join(root, "pglite-template");
  await (await createDatabase({ kind: "pglite", dir: pgliteTemplate })).close();
}, 30000);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describeDatabaseContract("pglite", {
  async open() {
    const dir = await mkdtemp(join(root, "pglite-"));
    await cp(pgliteTemplate, dir, { recursive: true });
    return createDatabase({ kind: "pglite", dir });
  },
});

describe("PostgreSQL server", () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60000);
  afterAll(async () => {
    await server?.stop();
  });

  describeDatabaseContract("postgres", {
    async open() {
      // A fresh database per test, so each starts empty.
      const name = `t_${randomBytes(6).toString("hex")}`;
      const admin = await createDatabase({ kind: "postgres", url: server.url });
      await admin.exec(`CREATE DATABASE ${name}`);
      await admin.close();
      return createDatabase({ kind: "postgres", url: server.url.replace(/\/postgres$/, `/${name}`) });
    },
  });

  test("a bad URL is a clear connection error", async () => {
    await expect(createDatabase({ kind: "postgres", url: `postgres://postgres@127.0.0.1:${server.port}/missing_db` })).rejects.toMatchObject({
      code: "3D000",
    });
  });
});

describe("PGlite persistence and migration folders", () => {
  test("data and applied migrations survive reopening the folder", async () => {
    const migrationsDir = join(root, "migrations");
    await mkdir(migrationsDir);
    await writeFile(join(migrationsDir, "002_seed.sql"), "INSERT INTO notes (body) VALUES ('kept');");
    await writeFile(join(migrationsDir, "001_notes.sql"), "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);");
    await writeFile(join(migrationsDir, "README.md"), "not a migration");
    const set = await loadMigrations("notes", migrationsDir);
    expect(set.migrations.map((m) => m.id)).toEqual(["001_notes", "002_seed"]);

    const dir = join(root, "pglite");
    await cp(pgliteTemplate, dir, { recursive: true });
    const first = await createDatabase({ kind: "pglite", dir });
    expect(await first.migrate(set)).toEqual(["001_notes", "002_seed"]);
    await first.close();
    const second = await createDatabase({ kind: "pglite", dir });
    expect(await second.migrate(set)).toEqual([]);
    expect(await second.query("SELECT body FROM notes")).toEqual([{ body: "kept" }]);
    await second.close();
  });

  test("a folder with two migrations of the same number is refused", async () => {
    const dir = join(root, "dup");
    await mkdir(dir);
    await writeFile(join(dir, "001_a.sql"), "SELECT 1;");
    await writeFile(join(dir, "001_b.sql"), "SELECT 1;");
    await expect(loadMigrations("dup", dir)).rejects.toThrow(/out of order or repeated/);
  });
});
