// The Node-API binding through the typed wrapper, on the real SmolLM2-135M model: asynchronous
// load, tokenizer and chat template, streamed generation that leaves the event loop free,
// cancellation, seeds, stop strings, logits, adapters and errors as JS exceptions.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Engine, Model, isNativeError } from "@openledger/native";

const MODEL = path.join(process.env.OL_MODEL_CACHE ?? path.join(os.homedir(), ".cache/openledger/models"), "SmolLM2-135M-Instruct.Q4_1.gguf");

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an exception");
}

describe("native binding", () => {
  let model: Model;
  let engine: Engine;
  let tmp: string;
  let prompt: number[];

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ol-binding-"));
    model = await Model.load(MODEL, { threads: 2 });
    engine = new Engine(model, { maxSequences: 16 });
    prompt = model.tokenize("The capital of France is", { addSpecial: true });
  });

  afterAll(() => {
    engine?.dispose();
    model?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("model info comes from the GGUF metadata", () => {
    const info = model.info();
    expect(info.architecture).toBe("llama");
    expect(info.nVocab).toBe(49152);
    expect(info.nLayer).toBe(30);
    expect(info.nEmbd).toBe(576);
    expect(info.nParams).toBeGreaterThan(100e6);
  });

  test("tokenize / detokenize round trip and the model's chat template", () => {
    const text = "Hello, world! 123 héllo 😀";
    const ids = model.tokenize(text);
    expect(ids.length).toBeGreaterThan(3);
    expect(model.detokenize(ids)).toBe(text);
    expect(model.tokenize("<|im_start|>", { parseSpecial: true })).toEqual([1]);
    expect(model.tokenize("<|im_start|>", { parseSpecial: false }).length).toBeGreaterThan(1);
    const chat = model.applyChatTemplate([{ role: "user", content: "Hi there" }], { addGenerationPrompt: true });
    expect(chat).toContain("<|im_start|>user\nHi there<|im_end|>");
    expect(chat.endsWith("<|im_start|>assistant\n")).toBe(true);
  });

  test("tokens stream while the event loop keeps running; the result gathers them", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const stream = engine.generate({ promptIds: prompt, maxTokens: 24, ignoreEos: true });
    const streamed: number[] = [];
    const ticksAtToken: number[] = [];
    let text = "";
    for await (const token of stream) {
      streamed.push(token.id);
      ticksAtToken.push(ticks);
      text += token.text;
    }
    clearInterval(timer);
    const result = await stream.result();
    expect(result.finishReason).toBe("length");
    expect(result.ids).toEqual(streamed);
    expect(result.ids.length).toBe(24);
    expect(result.text).toBe(text);
    expect(result.text).toBe(model.detokenize(result.ids));
    // The timer fired between tokens: generation never held the JS thread.
    expect(ticksAtToken[ticksAtToken.length - 1]).toBeGreaterThan(ticksAtToken[0]);
  });

  test("greedy generation follows the logits of evalLogits", async () => {
    const [logits] = await engine.evalLogits([{ ids: prompt }]);
    const nVocab = model.info().nVocab;
    expect(logits.length).toBe(prompt.length * nVocab);
    const last = logits.subarray((prompt.length - 1) * nVocab);
    const { ids } = await engine.generate({ promptIds: prompt, maxTokens: 1 }).result();
    expect(ids).toEqual([argmax(last)]);
  });

  test("a seed makes sampling reproducible", async () => {
    const sample = (seed: number) =>
      engine.generate({ promptIds: prompt, maxTokens: 16, temperature: 1.0, topK: 50, seed, ignoreEos: true }).result();
    const [a, b, c] = await Promise.all([sample(42), sample(42), sample(7)]);
    expect(a.ids).toEqual(b.ids);
    expect(c.ids).not.toEqual(a.ids);
  });

  test("an AbortSignal cancels a running generation", async () => {
    const controller = new AbortController();
    const stream = engine.generate({ promptIds: prompt, maxTokens: 2000, ignoreEos: true, signal: controller.signal });
    let count = 0;
    for await (const token of stream) {
      void token;
      if (++count === 3) controller.abort();
    }
    const result = await stream.result();
    expect(result.finishReason).toBe("cancelled");
    expect(result.ids.length).toBeLessThan(2000);
    // The scheduler drops the sequence right after its final event.
    for (let wait = 0; wait < 100 && engine.stats().runningSequences > 0; wait++) await new Promise((r) => setTimeout(r, 10));
    expect(engine.stats().runningSequences).toBe(0);
  });

  test("leaving the token loop early cancels the generation", async () => {
    const stream = engine.generate({ promptIds: prompt, maxTokens: 2000, ignoreEos: true });
    let count = 0;
    for await (const token of stream) {
      void token;
      if (++count === 2) break;
    }
    expect((await stream.result()).finishReason).toBe("cancelled");
  });

  test("a stop string ends the generation", async () => {
    const free = await engine.generate({ promptIds: prompt, maxTokens: 24, ignoreEos: true }).result();
    // The text of the 6th token: the text ends with it after that token at the latest.
    const stop = model.detokenize([free.ids[5]]);
    expect(stop.trim()).not.toBe("");
    const stopped = await engine.generate({ promptIds: prompt, maxTokens: 24, ignoreEos: true, stop: [stop] }).result();
    expect(stopped.finishReason).toBe("stop");
    expect(stopped.ids.length).toBeLessThanOrEqual(6);
    expect(stopped.ids).toEqual(free.ids.slice(0, stopped.ids.length));
  });

  test("concurrent requests each get what they get alone", async () => {
    const prompts = ["Once upon a time", "def add(a, b):", "The three primary colors are"].map((t) => model.tokenize(t, { addSpecial: true }));
    const alone: number[][] = [];
    for (const p of prompts) alone.push((await engine.generate({ promptIds: p, maxTokens: 12, ignoreEos: true }).result()).ids);
    const together = await Promise.all(prompts.map((p) => engine.generate({ promptIds: p, maxTokens: 12, ignoreEos: true }).result()));
    expect(together.map((r) => r.ids)).toEqual(alone);
  });

  test("errors are JS exceptions with the engine's message and status", async () => {
    const missing = await rejection(Model.load(path.join(tmp, "nope.gguf")));
    expect(isNativeError(missing) && missing.code).toBe("OL_ERR_IO");
    expect(missing.message).toContain("nope.gguf");

    const truncated = path.join(tmp, "truncated.gguf");
    const fd = fs.openSync(MODEL, "r");
    const head = Buffer.alloc(100_000);
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    fs.writeFileSync(truncated, head);
    const bad = await rejection(Model.load(truncated));
    expect(isNativeError(bad) && bad.code).toBe("OL_ERR_BAD_FILE");
    expect(bad.message.length).toBeGreaterThan(10);

    const notAdapter = thrown(() => engine.registerAdapter(path.join(tmp, "no-such-adapter")));
    expect(isNativeError(notAdapter)).toBe(true);
    expect(notAdapter.message).toContain("no-such-adapter");

    const unknownAdapter = thrown(() => engine.generate({ promptIds: prompt, maxTokens: 4, adapters: [{ id: 9999 }] }));
    expect(isNativeError(unknownAdapter) && unknownAdapter.code).toBe("OL_ERR_NOT_FOUND");

    const badToken = thrown(() => engine.generate({ promptIds: [model.info().nVocab + 5], maxTokens: 4 }));
    expect(isNativeError(badToken) && badToken.code).toBe("OL_ERR_INVALID_ARGUMENT");

    expect(() => engine.generate({ promptIds: [1.5], maxTokens: 4 })).toThrow(/promptIds\[0\] is not a token id/);
    await expect(engine.evalLogits([{ ids: [] }])).rejects.toThrow();
    // Checked at run time too, for callers without the types.
    expect(() => new Engine(model, { adapterPrecision: "q4" as "q8" })).toThrow(/adapterPrecision must be "stored" or "q8"/);
  });

  test("a disposed engine refuses calls; its model stays usable", async () => {
    const other = new Engine(model, { maxSequences: 2 });
    const running = other.generate({ promptIds: prompt, maxTokens: 5000, ignoreEos: true });
    other.dispose();
    expect((await running.result()).finishReason).toBe("cancelled");
    expect(() => other.stats()).toThrow("disposed");
    expect(model.tokenize("still works").length).toBeGreaterThan(0);
  });
});
