// Multi-LoRA through the JS API on a tiny fp32 model (ol_make_tiny): an adapter equals its merge
// into the weights, a mixed batch gives each request its solo logits, a weighted pair equals the
// merged weighted sum, and generation follows the merged model.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Engine, Model, makeTinyAdapter, makeTinyModel, mergeAdapters, type AdapterWeight } from "@openledger/native";

const TOLERANCE = 1e-4; // max |ours - reference| / max |reference|

function relativeError(ours: Float32Array, reference: Float32Array): number {
  expect(ours.length).toBe(reference.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ours.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - reference[i]));
    scale = Math.max(scale, Math.abs(reference[i]));
  }
  return diff / scale;
}

describe("multi-LoRA through the API (tiny fp32 model)", () => {
  let tmp: string;
  let base: Model;
  let engine: Engine;
  const adapterDirs: string[] = [];
  const adapterIds: number[] = [];
  const prompts: number[][] = [];

  async function mergedLogits(adapters: { dir: string; weight: number }[], ids: number[]): Promise<Float32Array> {
    const out = path.join(tmp, `merged-${adapters.map((a) => `${path.basename(a.dir)}x${a.weight}`).join("+")}`);
    await mergeAdapters(path.join(tmp, "model"), adapters, out);
    const merged = await Model.load(out, { threads: 1 });
    const mergedEngine = new Engine(merged);
    try {
      return (await mergedEngine.evalLogits([{ ids }]))[0];
    } finally {
      mergedEngine.dispose();
      merged.dispose();
    }
  }

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ol-lora-"));
    await makeTinyModel(path.join(tmp, "model"), { format: "hf", dtype: "f32", seed: 5 });
    for (let i = 0; i < 8; i++) {
      const dir = path.join(tmp, `adapter-${i}`);
      // Varied ranks/targets/scaling, as real adapters come.
      await makeTinyAdapter(dir, {
        seed: 100 + i,
        rank: [4, 8, 16][i % 3],
        alpha: 16,
        rslora: i % 4 === 3,
        targets: i % 2 === 0 ? undefined : ["q_proj", "v_proj", "down_proj"],
      });
      adapterDirs.push(dir);
    }
    base = await Model.load(path.join(tmp, "model"), { threads: 2 });
    engine = new Engine(base);
    for (const dir of adapterDirs) adapterIds.push(engine.registerAdapter(dir));
    const vocab = base.info().nVocab;
    for (let p = 0; p < 9; p++) prompts.push(Array.from({ length: 6 + p }, (_, k) => (p * 37 + k * 11 + 3) % vocab));
  });

  afterAll(() => {
    engine?.dispose();
    base?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("an adapter's logits equal those of its merge into the weights", async () => {
    for (const i of [0, 1, 3]) {
      const [ours] = await engine.evalLogits([{ ids: prompts[0], adapters: [{ id: adapterIds[i] }] }]);
      const reference = await mergedLogits([{ dir: adapterDirs[i], weight: 1 }], prompts[0]);
      expect(relativeError(ours, reference)).toBeLessThan(TOLERANCE);
    }
  });

  test("the adapter changes the output (the comparison above can fail)", async () => {
    const [plain, adapted] = await engine.evalLogits([{ ids: prompts[0] }, { ids: prompts[0], adapters: [{ id: adapterIds[0] }] }]);
    expect(relativeError(adapted, plain)).toBeGreaterThan(100 * TOLERANCE);
  });

  test("a mixed batch (8 adapters + base only) gives each request its logits alone", async () => {
    const requests = prompts.map((ids, i) => ({ ids, adapters: i < 8 ? [{ id: adapterIds[i] }] : [] }));
    const together = await engine.evalLogits(requests);
    for (let i = 0; i < requests.length; i++) {
      const [alone] = await engine.evalLogits([requests[i]]);
      expect(relativeError(together[i], alone)).toBeLessThan(TOLERANCE);
    }
  });

  test("a weighted pair of adapters equals the merged weighted sum", async () => {
    const mix: AdapterWeight[] = [{ id: adapterIds[0], weight: 0.7 }, { id: adapterIds[1], weight: -0.4 }];
    const [ours] = await engine.evalLogits([{ ids: prompts[2], adapters: mix }]);
    const reference = await mergedLogits([{ dir: adapterDirs[0], weight: 0.7 }, { dir: adapterDirs[1], weight: -0.4 }], prompts[2]);
    expect(relativeError(ours, reference)).toBeLessThan(TOLERANCE);
  });

  test("generation with an adapter follows the merged model; the LRU counts hits and loads", async () => {
    const out = path.join(tmp, "merged-gen");
    await mergeAdapters(path.join(tmp, "model"), [{ dir: adapterDirs[2], weight: 1 }], out);
    const merged = await Model.load(out, { threads: 1 });
    const mergedEngine = new Engine(merged);
    try {
      const request = { promptIds: prompts[1], maxTokens: 16, ignoreEos: true };
      const expected = await mergedEngine.generate(request).result();
      const got = await engine.generate({ ...request, adapters: [{ id: adapterIds[2] }] }).result();
      expect(got.ids).toEqual(expected.ids);
    } finally {
      mergedEngine.dispose();
      merged.dispose();
    }
    const stats = engine.stats();
    expect(stats.registered).toBe(8);
    expect(stats.resident).toBeGreaterThan(0);
    expect(stats.hits + stats.misses).toBeGreaterThan(0);
  });

  test("adapters load on demand, unregister, and bad adapters are refused", async () => {
    const extra = path.join(tmp, "adapter-extra");
    await makeTinyAdapter(extra, { seed: 999 });
    const id = engine.registerAdapter(extra);
    expect(await engine.loadAdapter(id)).toBeGreaterThan(0);
    expect(await engine.loadAdapter(id)).toBe(0); // already resident
    engine.unregisterAdapter(id);
    await expect(engine.loadAdapter(id)).rejects.toMatchObject({ code: "OL_ERR_NOT_FOUND" });

    const mismatched = path.join(tmp, "adapter-wrong-shape");
    await makeTinyAdapter(mismatched, { model: { embd: 32, heads: 4, kvHeads: 2, ff: 64 } });
    expect(() => engine.registerAdapter(mismatched)).toThrow(/shape|dimension|mismatch/i);
  });
});
