// `ol engine tokenize|generate`, run in-process through the same command definitions as the `ol`
// binary, on the real SmolLM2-135M model.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Engine, Model, makeTinyAdapter } from "@openledger/native";
import { parseAdapterSpec, runEngineCli } from "../../kernel/src/cli/commands/engine";

const MODEL = path.join(process.env.OL_MODEL_CACHE ?? path.join(os.homedir(), ".cache/openledger/models"), "SmolLM2-135M-Instruct.Q4_1.gguf");

async function run(args: string[]): Promise<string> {
  let out = "";
  await runEngineCli(args, { write: (text: string) => (out += text) });
  return out;
}

describe("ol engine", () => {
  let tmp: string;
  let model: Model;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ol-engine-cli-"));
    model = await Model.load(MODEL, { threads: 1 });
  });

  afterAll(() => {
    model?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("tokenize --json prints llama.cpp's ids", async () => {
    const out = await run(["tokenize", "--model", MODEL, "--text", "Hello, world!", "--json"]);
    expect(JSON.parse(out)).toEqual({ ids: [19556, 28, 905, 17] });
  });

  test("generate streams the text; --json gives ids and text", async () => {
    const args = ["generate", "--model", MODEL, "--prompt", "The capital of France is", "--max-tokens", "8", "--temperature", "0"];
    const json = JSON.parse(await run([...args, "--json"])) as { ids: number[]; text: string };
    expect(json.ids.length).toBeGreaterThan(0);
    expect(json.ids.length).toBeLessThanOrEqual(8);
    expect(json.text).toBe(model.detokenize(json.ids));
    expect(await run(args)).toBe(`${json.text}\n`);
  });

  test("--chat wraps the prompt in the model's chat template", async () => {
    const plain = JSON.parse(await run(["generate", "--model", MODEL, "--prompt", "What is 2+2?", "--max-tokens", "6", "--json"]));
    const chat = JSON.parse(await run(["generate", "--model", MODEL, "--prompt", "What is 2+2?", "--chat", "--max-tokens", "6", "--json"]));
    expect(chat.ids).not.toEqual(plain.ids);
  });

  test("--prompts-file runs every line and prints one JSON result per line, in order", async () => {
    const file = path.join(tmp, "prompts.jsonl");
    const prompts = ["Once upon a time", "def add(a, b):", "Roses are red,"];
    fs.writeFileSync(file, prompts.map((prompt, i) => JSON.stringify({ prompt, chat: i === 2 })).join("\n") + "\n");
    const lines = (await run(["generate", "--model", MODEL, "--prompts-file", file, "--max-tokens", "6", "--seed", "3"]))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { ids: number[]; text: string });
    expect(lines).toHaveLength(3);
    const alone = JSON.parse(await run(["generate", "--model", MODEL, "--prompt", prompts[1], "--max-tokens", "6", "--json"]));
    expect(lines[1].ids).toEqual(alone.ids);
    for (const line of lines) expect(line.text).toBe(model.detokenize(line.ids));
  });

  test("--adapter DIR:WEIGHT and per-line adapters run the weighted adapter mix", async () => {
    const info = model.info();
    const shape = { layers: info.nLayer, embd: info.nEmbd, ff: info.nFf, heads: info.nHead, kvHeads: info.nHeadKv };
    const [first, second] = [path.join(tmp, "adapter-a"), path.join(tmp, "adapter-b")];
    await makeTinyAdapter(first, { model: shape, rank: 8, seed: 1 });
    await makeTinyAdapter(second, { model: shape, rank: 8, seed: 2 });
    const prompt = "The capital of France is";
    const viaCli = JSON.parse(
      await run(["generate", "--model", MODEL, "--prompt", prompt, "--adapter", `${first}:0.5`, "--adapter", second, "--max-tokens", "8", "--json"]),
    ) as { ids: number[] };
    const engine = new Engine(model);
    try {
      const mix = [{ id: engine.registerAdapter(first), weight: 0.5 }, { id: engine.registerAdapter(second), weight: 1 }];
      const promptIds = model.tokenize(prompt, { addSpecial: true });
      const viaApi = await engine.generate({ promptIds, maxTokens: 8, adapters: mix }).result();
      const base = await engine.generate({ promptIds, maxTokens: 8 }).result();
      expect(viaCli.ids).toEqual(viaApi.ids);
      expect(viaApi.ids).not.toEqual(base.ids);
    } finally {
      engine.dispose();
    }
    const file = path.join(tmp, "adapters.jsonl");
    fs.writeFileSync(file, [{ prompt, adapters: [`${first}:0.5`, { dir: second }] }, { prompt }].map((l) => JSON.stringify(l)).join("\n"));
    const [mixed, plain] = (await run(["generate", "--model", MODEL, "--prompts-file", file, "--max-tokens", "8"]))
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { ids: number[] }).ids);
    expect(mixed).toEqual(viaCli.ids);
    expect(plain).not.toEqual(viaCli.ids);
    // --adapter-precision q8 gives what an engine created with adapterPrecision "q8" gives, which
    // (over 16 tokens of this prompt) differs from the stored adapter's, so a CLI ignoring the flag fails.
    const q8Cli = JSON.parse(
      await run(["generate", "--model", MODEL, "--prompt", prompt, "--adapter", first, "--adapter-precision", "q8", "--max-tokens", "16", "--json"]),
    ) as { ids: number[] };
    const viaEngine = async (adapterPrecision: "stored" | "q8"): Promise<number[]> => {
      const other = new Engine(model, { adapterPrecision });
      try {
        const promptIds = model.tokenize(prompt, { addSpecial: true });
        return (await other.generate({ promptIds, maxTokens: 16, adapters: [{ id: other.registerAdapter(first) }] }).result()).ids;
      } finally {
        other.dispose();
      }
    };
    expect(q8Cli.ids).toEqual(await viaEngine("q8"));
    expect(q8Cli.ids).not.toEqual(await viaEngine("stored"));
  });

  test("bad input gets a clear error", async () => {
    await expect(run(["tokenize", "--text", "x"])).rejects.toThrow(/--model/);
    await expect(run(["generate", "--model", MODEL, "--prompt", "x", "--max-tokens", "zero"])).rejects.toThrow(/--max-tokens/);
    await expect(run(["generate", "--model", MODEL])).rejects.toThrow(/--prompt/);
    await expect(run(["generate", "--model", MODEL, "--prompt", "x", "--adapter-precision", "q4"])).rejects.toThrow(/--adapter-precision must be stored or q8/);
    const file = path.join(tmp, "bad.jsonl");
    fs.writeFileSync(file, '{"prompt": "ok"}\n{"prompt": 3}\n');
    await expect(run(["generate", "--model", MODEL, "--prompts-file", file])).rejects.toThrow(/bad\.jsonl:2: "prompt" must be a string/);
    await expect(run(["tokenize", "--model", path.join(tmp, "missing.gguf"), "--text", "x"])).rejects.toThrow(/missing\.gguf/);
  });

  test("adapter specs: DIR or DIR:WEIGHT", () => {
    expect(parseAdapterSpec("/a/b")).toEqual({ dir: "/a/b", weight: 1 });
    expect(parseAdapterSpec("/a/b:0.5")).toEqual({ dir: "/a/b", weight: 0.5 });
    expect(parseAdapterSpec("C:/x")).toEqual({ dir: "C:/x", weight: 1 });
  });
});
