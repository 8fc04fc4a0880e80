// `ol up`: runs the kernel in the foreground (stopped by SIGINT/SIGTERM), or with --detach starts it
// in the background (pid and log file in the data dir) and returns once it is ready.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { loadConfig } from "../../config";
import type { Kernel, KernelAddresses } from "../../kernel";
import { isAlive, kernelFiles, readKernelState, removeKernelFiles, runningKernelPid, writeKernelPid, writeKernelState } from "../kernel-files";

interface UpOptions {
  config?: string;
  detach?: boolean;
  timeout: string;
}

export function describeAddresses(addresses: KernelAddresses): string {
  const rows: [string, string][] = [
    ["gRPC", addresses.grpc],
    ["HTTP/JSON", `http://${addresses.http}/rpc/<package.Service>/<Method>`],
    ["metrics", addresses.metrics ? `http://${addresses.metrics}/metrics` : "disabled"],
    ["Temporal", addresses.temporal],
    ["Temporal UI", addresses.temporalUi || "(external Temporal)"],
    ["chain RPC", `${addresses.chainRpcUrl} (chain id ${addresses.chainId})`],
  ];
  return rows.map(([name, value]) => `  ${name.padEnd(12)} ${value}`).join("\n");
}

function adminKeyNotice(apiKey: string, file: string): string {
  return `\nBootstrap admin API key (shown once; kept in ${file}):\n  ${apiKey}\nUse it as "x-api-key: <key>" or "authorization: Bearer <key>".\n`;
}

async function foreground(options: UpOptions): Promise<void> {
  const { config } = loadConfig({ file: options.config });
  const running = runningKernelPid(config.dataDir);
  if (running !== null) throw new Error(`a kernel is already running on ${config.dataDir} (pid ${running}); \`ol down\` stops it`);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // The pid file comes first, so `ol down` can stop a kernel that is still starting.
  writeKernelPid(config.dataDir, process.pid);
  let kernel: Kernel;
  try {
    // Loaded here: the kernel pulls in every adapter, which other verbs should not wait for.
    const { Kernel } = await import("../../kernel");
    kernel = await Kernel.start(config);
  } catch (err) {
    removeKernelFiles(config.dataDir);
    throw err;
  }
  writeKernelState(config.dataDir, {
    pid: process.pid,
    startedAtMs: Date.now(),
    addresses: kernel.addresses,
    embedded: kernel.embedded,
    adminKeyCreated: kernel.adminKey.created,
  });
  process.stdout.write(`OpenLedger kernel ready (pid ${process.pid}, data ${config.dataDir})\n${describeAddresses(kernel.addresses)}\n`);
  if (kernel.adminKey.created) process.stdout.write(adminKeyNotice(kernel.adminKey.apiKey, `${config.dataDir}/auth/admin-api-key`));
  const shutdown = (signal: string) => {
    process.stdout.write(`${signal}: stopping the kernel\n`);
    kernel.stop().then(
      () => {
        removeKernelFiles(config.dataDir);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`ol: stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
}

async function detached(options: UpOptions): Promise<void> {
  const { config } = loadConfig({ file: options.config });
  const running = runningKernelPid(config.dataDir);
  if (running !== null) throw new Error(`a kernel is already running on ${config.dataDir} (pid ${running}); \`ol down\` stops it`);
  removeKernelFiles(config.dataDir);
  const files = kernelFiles(config.dataDir);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const log = openSync(files.log, "a");
  const args = [process.argv[1], "up", ...(options.config ? ["--config", options.config] : [])];
  const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", log, log], env: process.env, cwd: process.cwd() });
  closeSync(log);
  child.unref();
  const pid = child.pid!;
  const deadline = Date.now() + Number(options.timeout) * 1000;
  for (;;) {
    const state = readKernelState(config.dataDir);
    if (state?.pid === pid) {
      process.stdout.write(`OpenLedger kernel running in the background (pid ${pid}, log ${files.log})\n${describeAddresses(state.addresses)}\n`);
      const keyFile = `${config.dataDir}/auth/admin-api-key`;
      if (state.adminKeyCreated && existsSync(keyFile)) process.stdout.write(adminKeyNotice(readFileSync(keyFile, "utf8").trim(), keyFile));
      return;
    }
    if (!isAlive(pid)) {
      const tail = existsSync(files.log) ? readFileSync(files.log, "utf8").split("\n").slice(-25).join("\n") : "";
      throw new Error(`the kernel exited before it was ready; the end of ${files.log}:\n${tail}`);
    }
    if (Date.now() > deadline) {
      process.kill(pid, "SIGTERM");
      throw new Error(`the kernel was not ready within ${options.timeout} s (stopped it); see ${files.log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export function register(program: Command): void {
  program
    .command("up")
    .description("start the kernel, its embedded services and plugins (foreground unless --detach)")
    .option("-c, --config <file>", "config file (default: $OL_CONFIG or ./openledger.yaml|yml|json)")
    .option("-d, --detach", "run in the background; return once ready")
    .option("--timeout <seconds>", "with --detach: how long to wait for readiness", "180")
    .action((options: UpOptions) => (options.detach ? detached(options) : foreground(options)));
}
