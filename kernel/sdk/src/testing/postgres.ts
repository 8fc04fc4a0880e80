// A real PostgreSQL 15 server for tests: initdb into a temp dir and run it on a free port. The
// server refuses to run as root, so both run as the `postgres` OS user (the dir is chowned to it).
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort, spawnManaged, type ManagedProcess } from "../process/managed";

const PG_BIN = process.env.OL_PG_BIN ?? "/usr/lib/postgresql/15/bin";
const SERVICE_USER = "postgres";

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication). */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Numeric uid/gid of a user, read from the passwd database via `id`. */
async function idsOf(user: string): Promise<{ uid: number; gid: number }> {
  const read = async (flag: string) => {
    let out = "";
    const proc = await spawnManaged("id", [flag, user], { onLine: (line) => (out += line) });
    if ((await proc.exited) !== 0) throw new Error(`no OS user ${user}: PostgreSQL cannot run as root`);
    return Number(out.trim());
  };
  return { uid: await read("-u"), gid: await read("-g") };
}

/**
 * Runs the command as the service user when we are root. The parent-death signal spawnManaged sets
 * is cleared by the uid change, so it is set again after it.
 */
function asServiceUser(command: string, args: string[]): [string, string[]] {
  if (userInfo().uid !== 0) return [command, args];
  const drop = [`--reuid=${SERVICE_USER}`, `--regid=${SERVICE_USER}`, "--init-groups", "--pdeathsig", "SIGKILL"];
  return ["setpriv", [...drop, "--", command, ...args]];
}

async function runToCompletion(command: string, args: string[]): Promise<void> {
  const output: string[] = [];
  const proc = await spawnManaged(...asServiceUser(command, args), { onLine: (line) => output.push(line) });
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${command} failed (exit ${code}):\n${output.slice(-20).join("\n")}`);
}

/** Starts a throwaway PostgreSQL server (fsync off); about 2 s. */
export async function startPostgres(): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), "ol-postgres-"));
  let server: ManagedProcess | undefined;
  try {
    if (userInfo().uid === 0) {
      const { uid, gid } = await idsOf(SERVICE_USER);
      await chown(dir, uid, gid);
    }
    const dataDir = join(dir, "data");
    await runToCompletion(join(PG_BIN, "initdb"), [
      "-D", dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync", "--no-instructions",
    ]);
    const port = await freePort();
    server = await spawnManaged(
      ...asServiceUser(join(PG_BIN, "postgres"), [
        "-D", dataDir,
        "-p", String(port),
        "-k", dir,
        "-c", "listen_addresses=127.0.0.1",
        "-c", "fsync=off",
        "-c", "synchronous_commit=off",
        "-c", "full_page_writes=off",
      ]),
      { readyLine: /database system is ready to accept connections/, readyTimeoutMs: 30000 },
    );
    const running = server;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port,
      async stop() {
        // SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for clients to disconnect).
        if (running.child.exitCode === null) process.kill(running.pid, "SIGINT");
        await running.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
