// Runs the native engine's C++ tests (GoogleTest via CTest) as part of the root jest run.
// `make native` (part of `make build` / `make test`) builds native/build first.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const buildDir = path.join(__dirname, "..", "build");

test("native C++ tests (ctest) pass", () => {
  if (!fs.existsSync(path.join(buildDir, "CTestTestfile.cmake"))) {
    throw new Error(`native/build is not configured: run \`make native\` first`);
  }
  const run = spawnSync("ctest", ["--test-dir", buildDir, "--output-on-failure", "-j", "2"], {
    encoding: "utf8",
    timeout: 15 * 60 * 1000,
  });
  if (run.status !== 0) {
    throw new Error(`ctest failed (status ${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
}, 16 * 60 * 1000);
