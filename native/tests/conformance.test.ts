// Conformance of the native engine with llama.cpp (node-llama-cpp 3.21.1, run in a child process in
// this same test run) on SmolLM2-135M-Instruct Q4_1: token ids, teacher-forced next-token
// distributions, and greedy generations. Both sides get the same token ids (llama.cpp's), so the
// logits comparison does not depend on the tokenizer, which is checked on its own.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Engine, Model, makeTinyAdapter } from "@openledger/native";
import { LlamaCpp } from "../../bench/engine/llamacpp";
import { convertPeftToGguf } from "../../bench/engine/peft-to-gguf";
import { conformancePrompts } from "./reference/prompts";

const MODEL = path.join(process.env.OL_MODEL_CACHE ?? path.join(os.homedir(), ".cache/openledger/models"), "SmolLM2-135M-Instruct.Q4_1.gguf");
const THREADS = 2;
const GREEDY_PROMPTS = 20;
const GREEDY_TOKENS = 64;
const EVAL_BATCH = 4; // sequences per evalLogits call (bounds the logits buffer)

// Issue 3's bars, printed beside every measurement. The engine reproduces llama.cpp's CPU arithmetic
// for this model (native/README.md, numerics): measured 2026-11-26, base model top-1 100%, mean KL
// 1.1e-4 nats, greedy 24/24 identical (one past 256 tokens of context); the runs are deterministic.
// The floors guard that level; the KL left is the reference's own rounding (node-llama-cpp sums the
// probabilities in float, largest first: 4e-5 to 9e-5 nats against the exact softmax of the very same
// logits), not a difference in logits. With an adapter: 95.2% and 3.9e-3 nats since the vectorised
// multi-LoRA kernels (runtime/lora_cpu.cpp) sum A and B products in another order than llama.cpp's
// f32 mul_mat of the LoRA tensors (the older per-rank dot products matched it: 100%, 1.4e-4); its
// floors guard that level until the LoRA kernels reproduce llama.cpp's order too.
const BAR = { top1: 0.98, meanKl: 0.01, greedyIdentical: 0.8 };
const REGRESSION_FLOOR = { top1: 0.995, top1WithAdapter: 0.94, meanKl: 1e-3, meanKlWithAdapter: 6e-3, greedyIdentical: 0.95 };
// llama.cpp switches to its tiled flash attention for batches of this many query rows, and to its
// split-KV form for one query row beyond SPLIT_CONTEXT tokens of context.
const TILED_ROWS = 64;
const SPLIT_CONTEXT = 256;

function report(what: string, value: number, bar: number): void {
  process.stdout.write(`${what}: ${(value * 100).toFixed(2)}% (issue bar ${(bar * 100).toFixed(0)}%: ${value >= bar ? "met" : "NOT met"})\n`);
}

interface GoldenCase {
  text: string;
  parse_special: boolean;
  ids: number[];
}

/** KL(P || Q) in nats, with P the reference probabilities and Q = softmax(logits). */
function klAndTop1(p: Float32Array, logits: Float32Array): { kl: number; sameTop1: boolean } {
  let maxLogit = -Infinity;
  let top1Ours = 0;
  for (let i = 0; i < logits.length; i++)
    if (logits[i] > maxLogit) {
      maxLogit = logits[i];
      top1Ours = i;
    }
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - maxLogit);
  const logZ = maxLogit + Math.log(sum);
  let kl = 0;
  let top1Ref = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] > p[top1Ref]) top1Ref = i;
    if (p[i] > 0) kl += p[i] * (Math.log(p[i]) - (logits[i] - logZ));
  }
  return { kl, sameTop1: top1Ours === top1Ref };
}

describe("conformance with llama.cpp on SmolLM2-135M-Instruct Q4_1", () => {
  let llama: LlamaCpp;
  let model: Model;
  let engine: Engine;
  let promptIds: number[][];
  let tmp: string;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ol-conformance-"));
    expect(fs.existsSync(MODEL)).toBe(true); // scripts/bootstrap.sh fetches it
    llama = await LlamaCpp.start({ modelPath: MODEL, threads: THREADS });
    model = await Model.load(MODEL, { threads: THREADS });
    // Every prompt prefilled in one step, as llama.cpp evaluates it (its batch of 512 holds each):
    // which attention form a row takes depends on how many rows come with it.
    engine = new Engine(model, { maxBatchTokens: 4096 });
    promptIds = [];
    for (const prompt of conformancePrompts) promptIds.push(...(await llama.tokenize([prompt.text], prompt.parseSpecial)));
  }, 120_000);

  afterAll(async () => {
    engine?.dispose();
    model?.dispose();
    await llama?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("identical token ids on >= 200 varied strings (golden file made by llama.cpp)", () => {
    const golden = JSON.parse(fs.readFileSync(path.join(__dirname, "golden", "smollm2-tokenizer.json"), "utf8")) as {
      cases: GoldenCase[];
    };
    expect(golden.cases.length).toBeGreaterThanOrEqual(200);
    const mismatches = golden.cases
      .map((c) => ({ text: c.text, expected: c.ids, got: model.tokenize(c.text, { parseSpecial: c.parse_special }) }))
      .filter((m) => JSON.stringify(m.expected) !== JSON.stringify(m.got));
    expect(mismatches).toEqual([]);
  });

  test("the golden file still matches llama.cpp on a sample", async () => {
    const golden = JSON.parse(fs.readFileSync(path.join(__dirname, "golden", "smollm2-tokenizer.json"), "utf8")) as {
      cases: GoldenCase[];
    };
    const sample = golden.cases.filter((_, i) => i % 10 === 0);
    for (const parseSpecial of [false, true]) {
      const cases = sample.filter((c) => c.parse_special === parseSpecial);
      const live = await llama.tokenize(cases.map((c) => c.text), parseSpecial);
      expect(live).toEqual(cases.map((c) => c.ids));
    }
  });

  /** Teacher-forced comparison over the prompts; adapter: our PEFT id and llama.cpp's GGUF copy. */
  async function compareDistributions(prompts: number[][], adapter?: { id: number; gguf: string }): Promise<{ top1: number; meanKl: number }> {
    const nVocab = model.info().nVocab;
    let positions = 0;
    let agree = 0;
    let klSum = 0;
    let klMax = 0;
    for (let start = 0; start < prompts.length; start += EVAL_BATCH) {
      const batch = prompts.slice(start, start + EVAL_BATCH);
      const ours = await engine.evalLogits(batch.map((ids) => ({ ids, adapters: adapter ? [{ id: adapter.id }] : [] })));
      for (let s = 0; s < batch.length; s++) {
        const reference = await llama.probabilities(batch[s], nVocab, adapter?.gguf);
        for (let pos = 0; pos < batch[s].length; pos++) {
          const { kl, sameTop1 } = klAndTop1(
            reference.subarray(pos * nVocab, (pos + 1) * nVocab),
            ours[s].subarray(pos * nVocab, (pos + 1) * nVocab),
          );
          positions++;
          klSum += kl;
          klMax = Math.max(klMax, kl);
          if (sameTop1) agree++;
        }
      }
    }
    const top1 = agree / positions;
    const meanKl = klSum / positions;
    process.stdout.write(`${adapter ? "with a rank-16 adapter" : "base model"}: ${prompts.length} prompts, ${positions} positions, top-1 agreement ${(top1 * 100).toFixed(2)}%, mean KL ${meanKl.toExponential(3)} nats (max ${klMax.toExponential(3)})\n`);
    return { top1, meanKl };
  }

  test("teacher forcing over >= 50 prompts: mean KL < 0.01 nats; top-1 agreement reported against the 98% bar", async () => {
    expect(promptIds.length).toBeGreaterThanOrEqual(50);
    // Prompts this long take llama.cpp's (and our) tiled attention; shorter ones the one-row form.
    expect(promptIds.filter((ids) => ids.length >= TILED_ROWS).length).toBeGreaterThanOrEqual(2);
    const { top1, meanKl } = await compareDistributions(promptIds);
    report("top-1 agreement, base", top1, BAR.top1);
    expect(top1).toBeGreaterThanOrEqual(REGRESSION_FLOOR.top1);
    expect(meanKl).toBeLessThan(REGRESSION_FLOOR.meanKl);
  }, 300_000);

  test("with a PEFT adapter (llama.cpp: the same adapter converted to a GGUF LoRA) the distributions agree too", async () => {
    const info = model.info();
    const dir = path.join(tmp, "adapter");
    await makeTinyAdapter(dir, { model: { layers: info.nLayer, embd: info.nEmbd, ff: info.nFf, heads: info.nHead, kvHeads: info.nHeadKv }, rank: 16, alpha: 32, seed: 7 });
    const gguf = path.join(tmp, "adapter.gguf");
    convertPeftToGguf(dir, gguf, { arch: info.architecture, nHead: info.nHead, nHeadKv: info.nHeadKv });
    const id = engine.registerAdapter(dir);
    const { top1, meanKl } = await compareDistributions(promptIds.slice(0, 12), { id, gguf });
    // The bars are for the base model; this comparison has only the regression floors.
    process.stdout.write(`top-1 agreement, with an adapter: ${(top1 * 100).toFixed(2)}% (floor ${(REGRESSION_FLOOR.top1WithAdapter * 100).toFixed(0)}%)\n`);
    expect(top1).toBeGreaterThanOrEqual(REGRESSION_FLOOR.top1WithAdapter);
    expect(meanKl).toBeLessThan(REGRESSION_FLOOR.meanKlWithAdapter);
  }, 300_000);

  test(`greedy ${GREEDY_TOKENS}-token generations: identical share reported against the 80% bar, first divergences listed`, async () => {
    // The first prompts, every long one (its prefill takes the tiled attention), and a context past
    // SPLIT_CONTEXT tokens (the later prompts one after another: its decode takes the split form).
    const longContext: number[] = [];
    for (const ids of promptIds.slice(GREEDY_PROMPTS)) if (longContext.length <= SPLIT_CONTEXT + 32) longContext.push(...ids);
    expect(longContext.length).toBeGreaterThan(SPLIT_CONTEXT);
    const prompts = [
      ...promptIds.slice(0, GREEDY_PROMPTS),
      ...promptIds.slice(GREEDY_PROMPTS).filter((ids) => ids.length >= TILED_ROWS),
      longContext,
    ];
    // All of ours run concurrently through the batcher; llama.cpp's one after another.
    const ours = await Promise.all(
      prompts.map((ids) => engine.generate({ promptIds: ids, maxTokens: GREEDY_TOKENS, temperature: 0, ignoreEos: true }).result()),
    );
    let identical = 0;
    const divergences: string[] = [];
    for (let i = 0; i < prompts.length; i++) {
      const reference = await llama.greedy(prompts[i], GREEDY_TOKENS);
      const got = ours[i].ids;
      expect(got.length).toBe(GREEDY_TOKENS);
      const first = reference.findIndex((id, k) => got[k] !== id);
      if (first < 0) identical++;
      else
        divergences.push(
          `prompt ${i} diverges at token ${first}: llama.cpp ${reference[first]} ${JSON.stringify(model.detokenize([reference[first]]))}, ours ${got[first]} ${JSON.stringify(model.detokenize([got[first]]))}`,
        );
    }
    process.stdout.write(`greedy: ${identical}/${prompts.length} identical\n${divergences.join("\n")}\n`);
    report("greedy generations identical", identical / prompts.length, BAR.greedyIdentical);
    expect(identical / prompts.length).toBeGreaterThanOrEqual(REGRESSION_FLOOR.greedyIdentical);
  }, 900_000); // llama.cpp's spinning worker threads crawl when the machine is oversubscribed
});
