// bench/engine: the native engine beside llama.cpp (node-llama-cpp 3.21.1, in a child process),
// same GGUF, same thread count, measured in this run, printed as ratios.
//   npm run bench:engine -w @openledger/bench [-- --threads N --out results.json]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Engine, Model, makeTinyAdapter, type GenerateRequest, type TinyShape } from "@openledger/native";
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
const DECODE_TOKENS = 128;
const PREFILL_TOKENS = 256;
const COLD_LOADS = 40;
const REGISTERED = 1000;
const RESIDENT = 64;
const RANK = 16;

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
    process.stdout.write(`model ${path.basename(MODEL)} (${info.architecture}, ${(info.nParams / 1e6).toFixed(0)}M params), ${THREADS} threads, ${os.cpus()[0]?.model ?? "cpu"}\n`);
    // Adapters: rank-16 PEFT on all linear modules; GGUF copies for llama.cpp.
    const adapterDirs: string[] = [];
    for (let i = 0; i < RESIDENT; i++) {
      const dir = path.join(work, `adapter-${i}`);
      await makeTinyAdapter(dir, { model: shape, rank: RANK, alpha: 2 * RANK, seed: i + 1 });
      adapterDirs.push(dir);
    }
    const ggufAdapters = adapterDirs.slice(0, Math.max(CONCURRENT, COLD_LOADS)).map((dir) => {
      const file = `${dir}.gguf`;
      convertPeftToGguf(dir, file, { arch: info.architecture, nHead: info.nHead, nHeadKv: info.nHeadKv });
      return file;
    });
    const adapterBytes = fs.statSync(path.join(adapterDirs[0], "adapter_model.safetensors")).size;

    const engine = new Engine(model, { maxSequences: 64, adapterBudgetBytes: (RESIDENT + 4) * adapterBytes });
    const prompt = model.tokenize("The history of the printing press begins in", { addSpecial: true });
    const longPrompt = Array.from({ length: PREFILL_TOKENS }, (_, i) => prompt[i % prompt.length]);

    // Warm-up both sides.
    await engine.generate({ promptIds: prompt, maxTokens: 8, ignoreEos: true }).result();
    await llama.greedy(prompt, 8);

    // 1. Single-stream decode.
    const oursDecode: number[] = [];
    const theirsDecode: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      const t = await timeGeneration(engine, { promptIds: prompt, maxTokens: DECODE_TOKENS, ignoreEos: true });
      oursDecode.push((t.tokens - 1) / ((t.lastMs - t.firstMs) / 1000));
      theirsDecode.push(DECODE_TOKENS / ((await llama.decodeMs(prompt, DECODE_TOKENS)) / 1000));
    }
    const decodeOurs = median(oursDecode);
    const decodeTheirs = median(theirsDecode);
    rows.push({ metric: "single-stream decode", ours: decodeOurs, llamaCpp: decodeTheirs, unit: "tok/s", ratio: decodeOurs / decodeTheirs, bar: ">= 0.8x" });

    // 2. Prefill.
    const oursPrefill: number[] = [];
    const theirsPrefill: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      const t = await timeGeneration(engine, { promptIds: longPrompt, maxTokens: 1, ignoreEos: true });
      oursPrefill.push(PREFILL_TOKENS / (t.firstMs / 1000));
      theirsPrefill.push(PREFILL_TOKENS / ((await llama.prefillMs(longPrompt)) / 1000));
    }
    rows.push({ metric: `prefill (${PREFILL_TOKENS}-token prompt)`, ours: median(oursPrefill), llamaCpp: median(theirsPrefill), unit: "tok/s", ratio: median(oursPrefill) / median(theirsPrefill), bar: "-" });

    // 3. 32 concurrent requests on 32 different adapters (resident: load time measured below).
    const ids = adapterDirs.slice(0, CONCURRENT).map((dir) => engine.registerAdapter(dir));
    for (const id of ids) await engine.loadAdapter(id);
    await llama.loraLoadMs(ggufAdapters.slice(0, CONCURRENT)); // llama.cpp keeps loaded adapters on the model
    const request = (i: number, withAdapter: boolean): GenerateRequest => ({
      promptIds: prompt, maxTokens: GEN_TOKENS, ignoreEos: true, adapters: withAdapter ? [{ id: ids[i] }] : [],
    });
    const oursAdapters = await aggregateTps(engine, Array.from({ length: CONCURRENT }, (_, i) => request(i, true)));
    const oursBase = await aggregateTps(engine, Array.from({ length: CONCURRENT }, (_, i) => request(i, false)));
    const theirsAdaptersRun = await llama.serve(ggufAdapters.slice(0, CONCURRENT).map((lora) => ({ ids: prompt, n: GEN_TOKENS, lora })));
    const theirsBaseRun = await llama.serve(Array.from({ length: CONCURRENT }, () => ({ ids: prompt, n: GEN_TOKENS, lora: null })));
    const theirsAdapters = theirsAdaptersRun.tokens / (theirsAdaptersRun.ms / 1000);
    const theirsBase = theirsBaseRun.tokens / (theirsBaseRun.ms / 1000);
    rows.push({ metric: `${CONCURRENT} concurrent requests, ${CONCURRENT} different adapters`, ours: oursAdapters, llamaCpp: theirsAdapters, unit: "tok/s", ratio: oursAdapters / theirsAdapters, bar: ">= 3x" });
    rows.push({ metric: `${CONCURRENT} concurrent requests, base only`, ours: oursBase, llamaCpp: theirsBase, unit: "tok/s", ratio: oursBase / theirsBase, bar: "-" });
    const lossOurs = 1 - oursAdapters / oursBase;
    const lossTheirs = 1 - theirsAdapters / theirsBase;
    rows.push({ metric: `loss from ${CONCURRENT} distinct adapters vs base only`, ours: lossOurs * 100, llamaCpp: lossTheirs * 100, unit: "%", ratio: null, bar: "ours <= 25%" });

    // 4. Adapter cold load from disk (files written by this run: both sides read them from the page cache).
    const coldIds = adapterDirs.slice(CONCURRENT, CONCURRENT + COLD_LOADS).map((dir) => engine.registerAdapter(dir));
    const oursLoad: number[] = [];
    for (const id of coldIds) oursLoad.push((await engine.loadAdapter(id)) / 1000);
    const theirsLoad = await llama.loraLoadMs(ggufAdapters.slice(CONCURRENT, CONCURRENT + COLD_LOADS).length > 0 ? ggufAdapters.slice(CONCURRENT, CONCURRENT + COLD_LOADS) : ggufAdapters.slice(0, COLD_LOADS));
    rows.push({ metric: `adapter cold load p50 (rank ${RANK}, all linear)`, ours: percentile(oursLoad, 50), llamaCpp: percentile(theirsLoad, 50), unit: "ms", ratio: percentile(theirsLoad, 50) / percentile(oursLoad, 50), bar: "ours < 5 ms" });
    rows.push({ metric: `adapter cold load p99`, ours: percentile(oursLoad, 99), llamaCpp: percentile(theirsLoad, 99), unit: "ms", ratio: percentile(theirsLoad, 99) / percentile(oursLoad, 99), bar: "-" });
    engine.dispose();

    // 5. Resident memory: 1,000 registered, 64 resident (fresh engine; llama.cpp: 64 loaded).
    const rssBefore = process.memoryUsage().rss;
    const memEngine = new Engine(model, { maxSequences: 64, adapterBudgetBytes: RESIDENT * adapterBytes + (1 << 20) });
    const registered: number[] = [];
    for (let i = 0; i < REGISTERED; i++) {
      const link = path.join(work, `registered-${i}`);
      fs.symlinkSync(adapterDirs[i % RESIDENT], link);
      registered.push(memEngine.registerAdapter(link));
    }
    for (const id of registered.slice(0, RESIDENT)) await memEngine.loadAdapter(id);
    const stats = memEngine.stats();
    const rssOurs = process.memoryUsage().rss - rssBefore;
    const theirsRssBefore = await llama.rssBytes();
    await llama.loraLoadMs(ggufAdapters); // all GGUF copies we made
    const theirsLoaded = ggufAdapters.length;
    const rssTheirs = ((await llama.rssBytes()) - theirsRssBefore) * (RESIDENT / theirsLoaded);
    rows.push({ metric: `RSS growth, ${REGISTERED} registered / ${stats.resident} resident (llama.cpp: ${RESIDENT} loaded, scaled from ${theirsLoaded})`, ours: rssOurs / 2 ** 20, llamaCpp: rssTheirs / 2 ** 20, unit: "MiB", ratio: rssTheirs / rssOurs, bar: "-" });
    memEngine.dispose();
  } finally {
    await llama.close();
    model.dispose();
    fs.rmSync(work, { recursive: true, force: true });
  }

  const fmt = (x: number | null, digits = 1): string => (x === null ? "-" : x.toFixed(digits));
  process.stdout.write("\n| metric | ours | llama.cpp | unit | ratio (>1 = ours better) | bar |\n|---|---|---|---|---|---|\n");
  for (const r of rows) process.stdout.write(`| ${r.metric} | ${fmt(r.ours)} | ${fmt(r.llamaCpp)} | ${r.unit} | ${r.ratio === null ? "-" : `${fmt(r.ratio, 2)}x`} | ${r.bar} |\n`);
  if (OUT) fs.writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), threads: THREADS, cpu: os.cpus()[0]?.model, rows }, null, 1));
}

main().catch((error: unknown) => {
  process.stderr.write(`bench/engine: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
