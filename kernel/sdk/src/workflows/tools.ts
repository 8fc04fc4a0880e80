// Where the external binaries (temporal, weed, anvil) live: the repository's .tools/bin (filled by
// scripts/bootstrap.sh), else the PATH.
import { existsSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";

const REPO_TOOLS = resolve(__dirname, "../../../../.tools/bin");

/** Absolute path of `name`; throws with a hint when it is not installed. */
export function findTool(name: string): string {
  const candidates = [join(REPO_TOOLS, name), ...(process.env.PATH ?? "").split(delimiter).map((d) => join(d, name))];
  const found = candidates.find((path) => path !== name && existsSync(path));
  if (!found) throw new Error(`${name} not found in ${REPO_TOOLS} or on PATH (run scripts/bootstrap.sh --tests)`);
  return found;
}
