// Child processes that never outlive their parent. Every process the kernel or a test starts
// (plugins, Temporal dev server, anvil, SeaweedFS, PostgreSQL) goes through spawnManaged, which:
//  - asks the Linux kernel to SIGKILL the child when this process dies, even by SIGKILL
//    (setpriv --pdeathsig, from util-linux), so nothing is orphaned;
//  - runs it in its own process group, so stop() reaches grandchildren too;
//  - waits until it is ready (a stdout/stderr line matches, or a TCP port accepts), with a timeout;
//  - stops it gracefully (SIGTERM) and then forcefully (SIGKILL), and always reaps it.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { connect, createServer } from "node:net";
import { createInterface } from "node:readline";

export interface ManagedOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Ready when a line of stdout or stderr matches. */
  readyLine?: RegExp;
  /** Ready when this TCP port on 127.0.0.1 accepts a connection. */
  readyPort?: number;
  /** Default 30 s. */
  readyTimeoutMs?: number;
  /** Receives every output line (for logging); default: dropped. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Grace period between SIGTERM and SIGKILL in stop(); default 5 s. */
  stopGraceMs?: number;
}

export interface ManagedProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has been reaped. */
  readonly exited: Promise<number | string>;
  stop(): Promise<void>;
}

const SETPRIV = "/usr/bin/setpriv";

function probePort(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function spawnManaged(
  command: string,
  args: readonly string[],
  options: ManagedOptions = {},
): Promise<ManagedProcess> {
  const [file, argv] = existsSync(SETPRIV)
    ? [SETPRIV, ["--pdeathsig", "SIGKILL", "--", command, ...args]]
    : [command, [...args]];
  const child = spawn(file, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group: stop() signals the whole group
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  let spawnError: Error | undefined;
  child.once("error", (err) => {
    spawnError = err;
  });
  const tail: string[] = [];
  let readyByLine = false;
  for (const [stream, name] of [
    [child.stdout, "stdout"],
    [child.stderr, "stderr"],
  ] as const) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (options.readyLine?.test(line)) readyByLine = true;
      options.onLine?.(line, name);
    });
  }
  let isExited = false;
  void exited.then(() => (isExited = true));

  const stop = async (): Promise<void> => {
    if (isExited || child.pid === undefined) return;
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* already gone */
      }
    };
    signalGroup("SIGTERM");
    const grace = options.stopGraceMs ?? 5000;
    const timer = setTimeout(() => signalGroup("SIGKILL"), grace);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30000);
  const describe = `${command} ${args.join(" ")}`;
  for (;;) {
    if (spawnError) throw new Error(`cannot start ${describe}: ${spawnError.message}`);
    if (isExited) {
      throw new Error(`${describe} exited before it was ready (exit ${await exited}):\n${tail.join("\n")}`);
    }
    const portReady = options.readyPort === undefined || (await probePort(options.readyPort));
    const lineReady = options.readyLine === undefined || readyByLine;
    if (portReady && lineReady) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${describe} was not ready within ${options.readyTimeoutMs ?? 30000} ms:\n${tail.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid!, child, exited, stop };
}

/** A free TCP port on 127.0.0.1 (bind to 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
