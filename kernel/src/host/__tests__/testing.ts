// Helpers for tests that start real plugins (the host's, the registry's, the example plugins').
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { HostLogger } from "../host";

const ROOT = resolve(__dirname, "../../../..");

/** A logger that drops everything. */
export const quietLogger: HostLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Compiles the SDK and plugins/examples/echo-ts (the plugin runs as its own node process, from
 * dist/). Type errors elsewhere in the SDK, which other people may be editing, only warn as long
 * as tsc still emitted what the plugin needs.
 */
export function buildEchoTsPlugin(): void {
  // Test files run in parallel workers: one tsc at a time, or they write the same outputs at once.
  const lock = join(ROOT, ".run", "build-echo-ts.lock");
  mkdirSync(join(ROOT, ".run"), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      const takenAt = statSync(lock, { throwIfNoEntry: false })?.mtimeMs;
      if (takenAt !== undefined && Date.now() - takenAt > 180000) rmSync(lock, { recursive: true, force: true }); // its holder died
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  let run;
  try {
    run = spawnSync(join(ROOT, "node_modules/.bin/tsc"), ["-b", "kernel/sdk", "plugins/examples/echo-ts"], { cwd: ROOT, encoding: "utf8" });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  const needed = [join(ROOT, "kernel/sdk/dist/index.js"), join(ROOT, "plugins/examples/echo-ts/dist/main.js")];
  const missing = needed.filter((file) => !existsSync(file));
  if (missing.length > 0) throw new Error(`tsc did not produce ${missing.join(", ")}:\n${run.stdout}${run.stderr}`);
  if (run.status !== 0) process.stderr.write(`warning: tsc -b reported errors (the plugin was still emitted):\n${run.stdout}`);
}
