// The Solidity build: a warning fails it like an error; a clean source gives the artifact and the typed ABI.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const BUILD = path.join(__dirname, "..", "scripts", "build.js");

describe("contracts build", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "ol-solc-"));
    mkdirSync(path.join(dir, "sol"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const build = (source: string) => {
    writeFileSync(path.join(dir, "sol", "Probe.sol"), source);
    const args = [BUILD, path.join(dir, "sol"), path.join(dir, "out"), path.join(dir, "generated")];
    return spawnSync(process.execPath, args, { encoding: "utf8" });
  };

  it("fails on a warning", () => {
    // An unused local variable is a warning, not an error, for solc.
    const result = build(
      "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n" +
        "contract Probe { function f() external pure returns (uint256) { uint256 unused; return 1; } }\n",
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/Unused local variable/);
    expect(result.stderr).toMatch(/warnings are errors/);
  });

  it("writes out/<Name>.json and a typed ABI for a clean source", () => {
    const result = build(
      "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n" +
        "contract Probe { function f() external pure returns (uint256) { return 1; } }\n",
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const artifact = JSON.parse(readFileSync(path.join(dir, "out", "Probe.json"), "utf8"));
    expect(artifact.abi.map((item: { name?: string }) => item.name)).toEqual(["f"]);
    expect(artifact.bytecode).toMatch(/^0x[0-9a-f]{20,}$/);
    const typed = readFileSync(path.join(dir, "generated", "Probe.ts"), "utf8");
    expect(typed).toContain("export const probeAbi = [");
    expect(typed).toContain("] as const;");
    expect(typed).toContain(`export const probeBytecode = "${artifact.bytecode}" as const;`);
    expect(readFileSync(path.join(dir, "generated", "index.ts"), "utf8")).toContain('export * from "./Probe";');
  });
});
