// Builds the libFuzzer harnesses (native/fuzz, clang + ASan/UBSan) and runs each for a bounded
// time, seeded with tiny valid files written by the engine's own writers, the tokenizer tests'
// vocabulary-only GGUFs and the head of the real SmolLM2 GGUF. Any crash, sanitizer report, leak
// or broken invariant fails the test; the crashing input is kept under native/fuzz/build/artifacts/
// for reproduction. OL_FUZZ_SECONDS sets the time per harness (default 15: 60 s over the four);
// OL_FUZZ_CXX the compiler.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const nativeDir = path.resolve(__dirname, "..");
const fuzzDir = path.join(nativeDir, "fuzz");
const buildDir = path.join(fuzzDir, "build");
const artifactsDir = path.join(buildDir, "artifacts");
const secondsPerHarness = Number(process.env.OL_FUZZ_SECONDS ?? "15");
const realModel = path.join(os.homedir(), ".cache/openledger/models/SmolLM2-135M-Instruct.Q4_1.gguf");
const harnesses = ["tokenizer", "gguf", "safetensors", "tokenizer_json"] as const;

interface RunResult {
  status: number | null;
  output: string;
}

function run(command: string, args: string[], cwd: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, output }));
  });
}

function findClang(): string {
  const candidates = process.env.OL_FUZZ_CXX ? [process.env.OL_FUZZ_CXX] : ["clang++-14", "clang++"];
  for (const candidate of candidates) {
    if (spawnSync(candidate, ["--version"]).status === 0) return candidate;
  }
  throw new Error(`no clang++ for libFuzzer (tried ${candidates.join(", ")}); run scripts/bootstrap.sh --tests`);
}

describe("libFuzzer harnesses", () => {
  let seedsDir = "";

  beforeAll(async () => {
    const cxx = findClang();
    const configure = await run(
      "cmake",
      ["-S", fuzzDir, "-B", buildDir, "-G", "Ninja", `-DCMAKE_CXX_COMPILER=${cxx}`],
      nativeDir,
    );
    if (configure.status !== 0) throw new Error(`configuring native/fuzz failed:\n${configure.output}`);
    const build = await run("cmake", ["--build", buildDir, "-j", "2"], nativeDir);
    if (build.status !== 0) throw new Error(`building native/fuzz failed:\n${build.output}`);

    seedsDir = fs.mkdtempSync(path.join(os.tmpdir(), "ol-fuzz-"));
    const seeds = await run(path.join(buildDir, "ol_fuzz_seeds"), [seedsDir], seedsDir);
    if (seeds.status !== 0) throw new Error(`writing seed corpora failed:\n${seeds.output}`);
    // The real model's first 256 KiB: a real header, truncated inside the vocabulary.
    if (fs.existsSync(realModel)) {
      const head = Buffer.alloc(256 * 1024);
      const fd = fs.openSync(realModel, "r");
      const n = fs.readSync(fd, head, 0, head.length, 0);
      fs.closeSync(fd);
      fs.writeFileSync(path.join(seedsDir, "gguf", "smollm2-head.gguf"), head.subarray(0, n));
    }
    // Vocabulary-only GGUFs with real tokenizer metadata (byte-level BPE with merges, SentencePiece).
    for (const fixture of ["bpe-vocab.gguf", "spm-vocab.gguf"]) {
      fs.copyFileSync(path.join(__dirname, "golden", fixture), path.join(seedsDir, "gguf", fixture));
    }
    fs.mkdirSync(artifactsDir, { recursive: true });
  }, 600_000);

  afterAll(() => {
    if (seedsDir) fs.rmSync(seedsDir, { recursive: true, force: true });
  });

  test.each(harnesses)(
    "%s harness runs without a crash",
    async (harness) => {
      const seeds = path.join(seedsDir, harness);
      expect(fs.readdirSync(seeds).length).toBeGreaterThan(0);
      const corpus = fs.mkdtempSync(path.join(seedsDir, `corpus-${harness}-`));
      const result = await run(
        path.join(buildDir, `ol_fuzz_${harness}`),
        [
          `-max_total_time=${secondsPerHarness}`,
          "-timeout=20",
          "-rss_limit_mb=2048",
          `-artifact_prefix=${path.join(artifactsDir, harness)}-`,
          "-print_final_stats=1",
          corpus,
          seeds,
        ],
        seedsDir,
      );
      if (result.status !== 0) {
        throw new Error(`ol_fuzz_${harness} failed (exit ${result.status}):\n${result.output.slice(-6000)}`);
      }
      const runs = /stat::number_of_executed_units:\s*(\d+)/.exec(result.output);
      expect(Number(runs?.[1] ?? 0)).toBeGreaterThan(1000);
    },
    (secondsPerHarness + 120) * 1000,
  );
});
