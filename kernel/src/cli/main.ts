#!/usr/bin/env node
// `ol`: the platform's command line.
import { Command } from "commander";
import { commands } from "./commands";

const program = new Command("ol").description("OpenLedger platform: kernel, plugins, engine, chain");
for (const register of commands) register(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`ol: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
