// Helpers for tests that start real plugins (the host's, the registry's, the example plugins').
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { HostLogger } from "./host";

const ROOT = resolve(__dirname, "../../..");

/** A logger that drops everything. */
export const quietLogger: HostLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Compiles the SDK and plugins/examples/echo-ts (the plugin runs as its own node process, from
 * dist/). Type errors elsewhere in the SDK, which other people may be editing, only warn as long
 * as tsc still emitted what the plugin needs.
 */
export function buildEchoTsPlugin(): void {
  const run = spawnSync(join(ROOT, "node_modules/.bin/tsc"), ["-b", "kernel/sdk", "plugins/examples/echo-ts"], { cwd: ROOT, encoding: "utf8" });
  const needed = [join(ROOT, "kernel/sdk/dist/index.js"), join(ROOT, "plugins/examples/echo-ts/dist/main.js")];
  const missing = needed.filter((file) => !existsSync(file));
  if (missing.length > 0) throw new Error(`tsc did not produce ${missing.join(", ")}:\n${run.stdout}${run.stderr}`);
  if (run.status !== 0) process.stderr.write(`warning: tsc -b reported errors (the plugin was still emitted):\n${run.stdout}`);
}
