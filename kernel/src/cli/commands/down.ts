// `ol down`: stops a detached (or foreground) kernel and everything under it, and waits until every
// one of those processes is gone.
import type { Command } from "commander";
import { loadConfig } from "../../config";
import { descendantsOf, isAlive, removeKernelFiles, runningKernelPid } from "../kernel-files";

async function waitGone(pids: number[], deadline: number): Promise<number[]> {
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function register(program: Command): void {
  program
    .command("down")
    .description("stop the running kernel, its plugins and embedded services; wait until they are gone")
    .option("-c, --config <file>", "config file (default: $OL_CONFIG or ./openledger.yaml|yml|json)")
    .option("--timeout <seconds>", "then SIGKILL whatever is left", "60")
    .action(async (options: { config?: string; timeout: string }) => {
      const { config } = loadConfig({ file: options.config });
      const pid = runningKernelPid(config.dataDir);
      if (pid === null) {
        removeKernelFiles(config.dataDir);
        process.stdout.write(`no kernel running on ${config.dataDir}\n`);
        return;
      }
      const family = [pid, ...descendantsOf(pid)];
      process.kill(pid, "SIGTERM");
      let left = await waitGone(family, Date.now() + Number(options.timeout) * 1000);
      if (left.length > 0) {
        process.stderr.write(`ol: still running after ${options.timeout} s, killing: ${left.join(", ")}\n`);
        for (const survivor of left) {
          try {
            process.kill(survivor, "SIGKILL");
          } catch {
            /* gone meanwhile */
          }
        }
        left = await waitGone(left, Date.now() + 5000);
      }
      removeKernelFiles(config.dataDir);
      if (left.length > 0) throw new Error(`processes ${left.join(", ")} survived SIGKILL`);
      process.stdout.write(`kernel ${pid} stopped (${family.length - 1} processes under it)\n`);
    });
}
