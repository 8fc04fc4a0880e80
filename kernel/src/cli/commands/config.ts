// `ol config print`: the effective configuration (defaults + file + OL_* environment), secrets masked.
import type { Command } from "commander";
import { stringify } from "yaml";
import { loadConfig, maskSecrets } from "../../config";

export function register(program: Command): void {
  const config = program.command("config").description("inspect the kernel configuration");
  config
    .command("print")
    .description("print the effective configuration, secrets masked")
    .option("-c, --config <file>", "config file (default: $OL_CONFIG or ./openledger.yaml|yml|json)")
    .option("--json", "print JSON instead of YAML")
    .action((options: { config?: string; json?: boolean }) => {
      const { config: effective, file } = loadConfig({ file: options.config });
      const masked = maskSecrets(effective);
      if (options.json) process.stdout.write(`${JSON.stringify(masked, null, 2)}\n`);
      else process.stdout.write(`# ${file ? `from ${file}` : "no config file"} + OL_* environment\n${stringify(masked)}`);
    });
}
