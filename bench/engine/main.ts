// bench/engine: the native engine beside llama.cpp (node-llama-cpp 3.21.1, in a child process),
// same GGUF, same thread count, measured in this run, printed as ratios.
//   npm run bench:engine [-- --threads N --out results.json --reps 5 --decode-tokens 128 --gen-tokens 32
//                           --adapter-dtype f32|f16|bf16 --adapter-precision stored|q8]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Engine, Model, makeTinyAdapter, type EvalSequence, type GenerateRequest, type TinyShape } from "@openledger/native";
import { LlamaCpp } from "./llamacpp";
import { convertPeftToGguf } from "./peft-to-gguf";

interface Row {
  metric: string;
  ours: number;
  llamaCpp: number | null;
  unit: string;
  /** ours / llama.cpp, oriented so that > 1 is better for us */
  ratio: number | null;
  bar: string;
}

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const THREADS = Number(option("--threads", String(Math.min(os.cpus().length, 4))));
const MODEL = option("--model", path.join(process.env.OL_MODEL_CACHE ?? path.join(os.homedir(), ".cache/openledger/models"), "SmolLM2-135M-Instruct.Q4_1.gguf"));
const OUT = option("--out", "");
const CONCURRENT = 32;
const GEN_TOKENS = Number(option("--gen-tokens", "32"));
const DECODE_TOKENS = Number(option("--decode-tokens", "128"));
const PREFILL_TOKENS = 256;
const REPS = Number(option("--reps", "5"));
const REGISTERED = 1000;
const RESIDENT = 64;
const RANK = 16;
// Storage type of the adapters' A/B (PEFT safetensors and the GGUF copies alike): f32 streams twice
// the bytes of f16/bf16 through every 32-adapter step, on both sides.
const ADAPTER_DTYPES = ["f32", "f16", "bf16"] as const;
const ADAPTER_DTYPE = ADAPTER_DTYPES.find((t) => t === option("--adapter-dtype", "f32"));
if (ADAPTER_DTYPE === undefined) throw new Error(`--adapter-dtype: expected ${ADAPTER_DTYPES.join(", ")}`);
// How our engine holds resident adapters: as stored (exact) or as int8 components (a quarter of
// f32's bytes per step); llama.cpp always keeps the stored type.
const ADAPTER_PRECISIONS = ["stored", "q8"] as const;
const ADAPTER_PRECISION = ADAPTER_PRECISIONS.find((p) => p === option("--adapter-precision", "stored"));
if (ADAPTER_PRECISION === undefined) throw new Error(`--adapter-precision: expected ${ADAPTER_PRECISIONS.join(", ")}`);
const ADAPTERS_LABEL = ADAPTER_PRECISION === "q8" ? `${ADAPTER_DTYPE} (ours: held as q8)` : ADAPTER_DTYPE;

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

async function timeGeneration(engine: Engine, request: GenerateRequest): Promise<{ firstMs: number; lastMs: number; tokens: number }> {
  const start = now();
  let firstMs = 0;
  let lastMs = 0;
  let tokens = 0;
  for await (const token of engine.generate(request)) {
    void token;
    lastMs = now() - start;
    if (++tokens === 1) firstMs = lastMs;
  }
  return { firstMs, lastMs, tokens };
}

/** Mean KL(P || Q) in nats and top-1 agreement over positions, P and Q given as logits. */
function logitsAgreement(reference: Float32Array[], other: Float32Array[], vocab: number): { meanKl: number; top1: number } {
  let kl = 0;
  let same = 0;
  let positions = 0;
  const logSoftmax = (x: Float32Array): Float64Array => {
    let max = -Infinity;
    for (const v of x) max = Math.max(max, v);
    let sum = 0;
    for (const v of x) sum += Math.exp(v - max);
    const log = Math.log(sum) + max;
    return Float64Array.from(x, (v) => v - log);
  };
  const argmax = (x: Float64Array): number => x.reduce((best, v, i) => (v > x[best] ? i : best), 0);
  for (let s = 0; s < reference.length; s++)
    for (let at = 0; at < reference[s].length; at += vocab, positions++) {
      const p = logSoftmax(reference[s].subarray(at, at + vocab));
      const q = logSoftmax(other[s].subarray(at, at + vocab));
      for (let i = 0; i < vocab; i++) kl += Math.exp(p[i]) * (p[i] - q[i]);
      if (argmax(p) === argmax(q)) same++;
    }
  return { meanKl: kl / positions, top1: same / positions };
}

/** All requests at once; aggregate generated tokens per second. */
async function aggregateTps(engine: Engine, requests: GenerateRequest[]): Promise<number> {
  const start = now();
  const results = await Promise.all(requests.map((r) => engine.generate(r).result()));
  const ms = now() - start;
  return results.reduce((sum, r) => sum + r.ids.length, 0) / (ms / 1000);
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ol-bench-engine-"));
  const rows: Row[] = [];
  const model = await Model.load(MODEL, { threads: THREADS });
  const info = model.info();
  const shape: TinyShape = { layers: info.nLayer, embd: info.nEmbd, ff: info.nFf, heads: info.nHead, kvHeads: info.nHeadKv };
  const llama = await LlamaCpp.start({ modelPath: MODEL, threads: THREADS, contextSize: 1024 });
  try {
    process.stdout.write(`model ${path.basename(MODEL)} (${info.architecture}, ${(info.nParams / 1e6).toFixed(0)}M params), ${THREADS} threads, ${os.cpus()[0]?.model ?? "cpu"}, adapters ${ADAPTERS_LABEL}, load average ${os.loadavg()[0].toFixed(2)}\n`);
    // 64 random rank-16 PEFT adapters on all linear modules, and their GGUF copies for llama.cpp:
    // 0..31 serve the concurrent requests, 32..63 are loaded cold.
    const adapterDirs: string[] = [];
    const ggufAdapters: string[] = [];
    for (let i = 0; i < RESIDENT; i++) {
      const dir = path.join(work, `adapter-${i}`);
      await makeTinyAdapter(dir, { model: shape, rank: RANK, alpha: 2 * RANK, seed: i + 1, dtype: ADAPTER_DTYPE });
      convertPeftToGguf(dir, `${dir}.gguf`, { arch: info.architecture, nHead: info.nHead, nHeadKv: info.nHeadKv });
      adapterDirs.push(dir);
      ggufAdapters.push(`${dir}.gguf`);
    }
    const adapterBytes = fs.statSync(path.join(adapterDirs[0], "adapter_model.safetensors")).size;
    const serving = { dirs: adapterDirs.slice(0, CONCURRENT), ggufs: ggufAdapters.slice(0, CONCURRENT) };
    const cold = { dirs: adapterDirs.slice(CONCURRENT), ggufs: ggufAdapters.slice(CONCURRENT) };

    const prompt = model.tokenize("The history of the printing press begins in", { addSpecial: true });
    const longPrompt = Array.from({ length: PREFILL_TOKENS }, (_, i) => prompt[i % prompt.length]);
    const theirsRssBase = await llama.rssBytes(); // before any LoRA is loaded

    // 1. Resident memory first, while no adapter memory has been allocated in this process:
    //    1,000 registered (symlinks onto the 64 directories), 64 resident.
    const rssBefore = process.memoryUsage().rss;
    const memEngine = new Engine(model, { maxSequences: 4, adapterBudgetBytes: RESIDENT * adapterBytes + (1 << 20), adapterPrecision: ADAPTER_PRECISION });
    const registered: number[] = [];
    for (let i = 0; i < REGISTERED; i++) {
      const link = path.join(work, `registered-${i}`);
      fs.symlinkSync(adapterDirs[i % RESIDENT], link);
      registered.push(memEngine.registerAdapter(link));
    }
    for (const id of registered.slice(0, RESIDENT)) await memEngine.loadAdapter(id);
    const memStats = memEngine.stats();
    const rssOurs = process.memoryUsage().rss - rssBefore;
    memEngine.dispose();

    const engine = new Engine(model, { maxSequences: 64, adapterBudgetBytes: (RESIDENT + 4) * adapterBytes, adapterPrecision: ADAPTER_PRECISION });
    // Warm-up both sides.
    await engine.generate({ promptIds: prompt, maxTokens: 8, ignoreEos: true }).result();
    await llama.greedy(prompt, 8);

    // 2. Single-stream decode.
    const oursDecode: number[] = [];
    const theirsDecode: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const t = await timeGeneration(engine, { promptIds: prompt, maxTokens: DECODE_TOKENS, ignoreEos: true });
      oursDecode.push((t.tokens - 1) / ((t.lastMs - t.firstMs) / 1000));
      theirsDecode.push(DECODE_TOKENS / ((await llama.decodeMs(prompt, DECODE_TOKENS)) / 1000));
    }
    const decodeOurs = median(oursDecode);
    const decodeTheirs = median(theirsDecode);
    rows.push({ metric: "single-stream decode", ours: decodeOurs, llamaCpp: decodeTheirs, unit: "tok/s", ratio: decodeOurs / decodeTheirs, bar: ">= 0.8x" });

    // 3. Prefill.
    const oursPrefill: number[] = [];
    const theirsPrefill: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const t = await timeGeneration(engine, { promptIds: longPrompt, maxTokens: 1, ignoreEos: true });
      oursPrefill.push(PREFILL_TOKENS / (t.firstMs / 1000));
      theirsPrefill.push(PREFILL_TOKENS / ((await llama.prefillMs(longPrompt)) / 1000));
    }
    rows.push({ metric: `prefill (${PREFILL_TOKENS}-token prompt)`, ours: median(oursPrefill), llamaCpp: median(theirsPrefill), unit: "tok/s", ratio: median(oursPrefill) / median(theirsPrefill), bar: "-" });

    // 4. 32 concurrent requests on 32 different adapters, all resident beforehand on both sides.
    const ids = serving.dirs.map((dir) => engine.registerAdapter(dir));
    for (const id of ids) await engine.loadAdapter(id);
    await llama.loraLoadMs(serving.ggufs); // llama.cpp keeps loaded adapters on the model
    const request = (i: number, withAdapter: boolean): GenerateRequest => ({
      promptIds: prompt, maxTokens: GEN_TOKENS, ignoreEos: true, adapters: withAdapter ? [{ id: ids[i] }] : [],
    });
    // Adapter and base-only bursts alternate (REPS pairs, order swapped every pair) so that load
    // drifting on a shared machine hits both alike; the figures are medians over the pairs.
    const burst = (withAdapter: boolean): Promise<number> => aggregateTps(engine, Array.from({ length: CONCURRENT }, (_, i) => request(i, withAdapter)));
    const pairs: { adapters: number; base: number }[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      if (rep % 2 === 0) {
        const adapters = await burst(true);
        pairs.push({ adapters, base: await burst(false) });
      } else {
        const base = await burst(false);
        pairs.push({ base, adapters: await burst(true) });
      }
    }
    const oursAdapters = median(pairs.map((p) => p.adapters));
    const oursBase = median(pairs.map((p) => p.base));
    const oursLoss = median(pairs.map((p) => 1 - p.adapters / p.base));
    const theirsAdaptersRun = await llama.serve(serving.ggufs.map((lora) => ({ ids: prompt, n: GEN_TOKENS, lora })));
    const theirsBaseRun = await llama.serve(serving.ggufs.map(() => ({ ids: prompt, n: GEN_TOKENS, lora: null })));
    const theirsAdapters = theirsAdaptersRun.tokens / (theirsAdaptersRun.ms / 1000);
    const theirsBase = theirsBaseRun.tokens / (theirsBaseRun.ms / 1000);
    rows.push({ metric: `${CONCURRENT} concurrent requests, ${CONCURRENT} different ${ADAPTERS_LABEL} adapters`, ours: oursAdapters, llamaCpp: theirsAdapters, unit: "tok/s", ratio: oursAdapters / theirsAdapters, bar: ">= 3x" });
    rows.push({ metric: `${CONCURRENT} concurrent requests, base only`, ours: oursBase, llamaCpp: theirsBase, unit: "tok/s", ratio: oursBase / theirsBase, bar: "-" });
    rows.push({ metric: `loss from ${CONCURRENT} distinct adapters vs base only`, ours: oursLoss * 100, llamaCpp: (1 - theirsAdapters / theirsBase) * 100, unit: "%", ratio: null, bar: "ours <= 25%" });

    // 5. Adapter cold load from disk (files written by this run: both sides read them from the page cache).
    const coldIds = cold.dirs.map((dir) => engine.registerAdapter(dir));
    const oursLoad: number[] = [];
    for (const id of coldIds) oursLoad.push((await engine.loadAdapter(id)) / 1000);
    const theirsLoad = await llama.loraLoadMs(cold.ggufs);
    rows.push({ metric: `adapter cold load p50 (rank ${RANK} ${ADAPTERS_LABEL}, all linear, ${oursLoad.length} loads)`, ours: percentile(oursLoad, 50), llamaCpp: percentile(theirsLoad, 50), unit: "ms", ratio: percentile(theirsLoad, 50) / percentile(oursLoad, 50), bar: "ours < 5 ms" });
    rows.push({ metric: "adapter cold load p99", ours: percentile(oursLoad, 99), llamaCpp: percentile(theirsLoad, 99), unit: "ms", ratio: percentile(theirsLoad, 99) / percentile(oursLoad, 99), bar: "-" });

    // 6. What q8 costs in accuracy: teacher-forced logits with 8 of the adapters, held as q8 vs as
    //    stored, beside what the adapters change (base only vs stored).
    if (ADAPTER_PRECISION === "q8") {
      const exact = new Engine(model, { maxSequences: 16, adapterBudgetBytes: 16 * adapterBytes });
      const texts = ["The history of the printing press begins in", "def fibonacci(n):", "Photosynthesis converts light into", "The capital of France is",
        "In 1969, the first humans", "To bake bread you need flour,", "A binary search tree is", "The quick brown fox jumps over"];
      const sequences = texts.map((text) => model.tokenize(text, { addSpecial: true }));
      const withAdapters = (engineIds: number[]): EvalSequence[] =>
        sequences.map((ids, i) => ({ ids, adapters: [{ id: engineIds[i] }] }));
      const exactIds = serving.dirs.slice(0, texts.length).map((dir) => exact.registerAdapter(dir));
      const reference = await exact.evalLogits(withAdapters(exactIds));
      const q8 = await engine.evalLogits(withAdapters(ids.slice(0, texts.length)));
      const baseOnly = await exact.evalLogits(sequences.map((ids) => ({ ids })));
      exact.dispose();
      const lossy = logitsAgreement(reference, q8, info.nVocab);
      const effect = logitsAgreement(reference, baseOnly, info.nVocab);
      rows.push({ metric: `q8 vs stored adapters: top-1 agreement (teacher-forced, ${texts.length} prompts)`, ours: lossy.top1 * 100, llamaCpp: null, unit: "%", ratio: null, bar: "-" });
      rows.push({ metric: "q8 vs stored adapters: mean KL", ours: lossy.meanKl, llamaCpp: null, unit: "nats", ratio: null, bar: "-" });
      rows.push({ metric: "base only vs stored adapters (what the adapters change): top-1 / mean KL", ours: effect.top1 * 100, llamaCpp: null, unit: `% / ${effect.meanKl.toFixed(4)} nats`, ratio: null, bar: "-" });
    }
    engine.dispose();

    // llama.cpp now holds all 64 adapters (32 served + 32 cold): its memory for 64 resident.
    const rssTheirs = (await llama.rssBytes()) - theirsRssBase;
    rows.push({ metric: `RSS growth: ours ${REGISTERED} registered / ${memStats.resident} resident; llama.cpp ${RESIDENT} loaded`, ours: rssOurs / 2 ** 20, llamaCpp: rssTheirs / 2 ** 20, unit: "MiB", ratio: rssTheirs / rssOurs, bar: "-" });
  } finally {
    await llama.close();
    model.dispose();
    fs.rmSync(work, { recursive: true, force: true });
  }

  const fmt = (x: number | null, digits = 1): string => (x === null ? "-" : x.toFixed(digits));
  process.stdout.write("\n| metric | ours | llama.cpp | unit | ratio (>1 = ours better) | bar |\n|---|---|---|---|---|---|\n");
  for (const r of rows) process.stdout.write(`| ${r.metric} | ${fmt(r.ours, r.unit === "nats" ? 5 : 1)} | ${fmt(r.llamaCpp)} | ${r.unit} | ${r.ratio === null ? "-" : `${fmt(r.ratio, 2)}x`} | ${r.bar} |\n`);
  if (OUT) fs.writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), threads: THREADS, cpu: os.cpus()[0]?.model, adapterDtype: ADAPTER_DTYPE, adapterPrecision: ADAPTER_PRECISION, rows }, null, 1));
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/engine: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
