// `ol config print` as a user runs it (the built CLI: `npx tsc -b` first).
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";

const run = promisify(execFile);
const CLI = path.resolve(__dirname, "../../../dist/cli/main.js");

describe("ol config print", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "ol-config-cli-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const ol = (args: string[], env: Record<string, string>) =>
    run(process.execPath, [CLI, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? "", ...env } });

  test("prints the effective configuration with secrets masked", async () => {
    writeFileSync(path.join(dir, "openledger.yaml"), "gateway:\n  port: 9000\ndatabase:\n  kind: postgres\n");
    const { stdout } = await ol(["config", "print"], { OL_DATABASE__URL: "postgres://ol:hunter2@db/ol", OL_HTTP__PORT: "9001" });
    expect(stdout).not.toContain("hunter2");
    expect(stdout.split("\n")[0]).toBe(`# from ${path.join(dir, "openledger.yaml")} + OL_* environment`);
    const printed = parse(stdout) as { gateway: { port: number }; http: { port: number }; database: { url: string }; dataDir: string };
    expect(printed).toMatchObject({ gateway: { port: 9000 }, http: { port: 9001 }, database: { url: "********" }, dataDir: path.join(dir, ".data") });
  });

  test("a bad value fails with the key named and exit code 1", async () => {
    await expect(ol(["config", "print", "--json"], { OL_GATEWAY__PORT: "99999" })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining("gateway.port (from OL_GATEWAY__PORT): must be <= 65535"),
    });
  });
});
