// Runs one `ol` verb inside the calling process, with its output captured: how tests drive a verb
// without spawning the `ol` binary (which builds its program from register() in index.ts).
import { Command } from "commander";

/** Where a verb writes what it prints. */
export interface CliOutput {
  write(text: string): unknown;
}

export async function runVerbInProcess(
  verb: string,
  registerVerb: (program: Command, out: CliOutput) => void,
  args: readonly string[],
  out: CliOutput,
): Promise<void> {
  const program = new Command("ol").exitOverride();
  program.configureOutput({ writeOut: (text) => out.write(text), writeErr: (text) => out.write(text) });
  registerVerb(program, out);
  program.commands.forEach((command) => command.commands.forEach((sub) => sub.exitOverride()));
  await program.parseAsync([verb, ...args], { from: "user" });
}
