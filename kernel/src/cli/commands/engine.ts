// `ol engine ...`: the native engine from the command line, for people and for checks.
//   ol engine tokenize --model PATH --text TEXT [--json]
//   ol engine generate --model PATH [--adapter DIR[:WEIGHT]]... --prompt TEXT [--chat]
//                      --max-tokens N --temperature T [--seed S] [--json]
//   ol engine generate --model PATH --prompts-file F.jsonl ...   (all lines run concurrently)
//   ol engine make-tiny-model|make-tiny-adapter|merge-adapters ...  (native/tools ol_make_tiny)
import * as fs from "fs";
import { Command, InvalidArgumentError } from "commander";
import { Engine, Model, runMakeTiny, type AdapterWeight, type GenerationResult } from "@openledger/native";
import { runVerbInProcess, type CliOutput } from "./in-process";

/** Where the command writes; tests pass their own. */
export type EngineCliOutput = CliOutput;

interface ModelOptions {
  model: string;
  threads: number;
}

interface GenerateOptions extends ModelOptions {
  prompt?: string;
  promptsFile?: string;
  adapter: string[];
  adapterPrecision: "stored" | "q8";
  chat?: boolean;
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  seed?: number;
  stop: string[];
  json?: boolean;
}

/** One line of a --prompts-file. */
interface PromptLine {
  prompt: string;
  /** "DIR[:WEIGHT]" strings or {dir, weight} objects. */
  adapters?: (string | { dir: string; weight?: number })[];
  chat?: boolean;
}

/** One adapter a request names: a PEFT directory and its weight in the linear combination. */
export interface AdapterSpec {
  dir: string;
  weight: number;
}

/** "DIR" or "DIR:WEIGHT" (the weight is what follows the last colon, when it is a number). */
export function parseAdapterSpec(spec: string): AdapterSpec {
  const colon = spec.lastIndexOf(":");
  if (colon > 0) {
    const weightText = spec.slice(colon + 1);
    const weight = Number(weightText);
    if (weightText.trim() !== "" && Number.isFinite(weight)) return { dir: spec.slice(0, colon), weight };
  }
  if (spec === "") throw new InvalidArgumentError("an adapter needs a directory");
  return { dir: spec, weight: 1 };
}

function integer(name: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

function adapterPrecision(value: string): "stored" | "q8" {
  if (value !== "stored" && value !== "q8") throw new InvalidArgumentError("--adapter-precision must be stored or q8");
  return value;
}

function finiteNumber(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
    return n;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Reads and checks a prompts file: one JSON object per non-empty line. */
function readPromptsFile(file: string): PromptLine[] {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  const prompts: PromptLine[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === "") return;
    const where = `${file}:${index + 1}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new Error(`${where}: not JSON (${(error as Error).message})`);
    }
    if (typeof parsed !== "object" || parsed === null) throw new Error(`${where}: expected an object`);
    const { prompt, adapters, chat } = parsed as Record<string, unknown>;
    if (typeof prompt !== "string") throw new Error(`${where}: "prompt" must be a string`);
    if (chat !== undefined && typeof chat !== "boolean") throw new Error(`${where}: "chat" must be a boolean`);
    if (adapters !== undefined) {
      const valid =
        Array.isArray(adapters) &&
        adapters.every(
          (a) =>
            typeof a === "string" ||
            (typeof a === "object" && a !== null && typeof (a as { dir?: unknown }).dir === "string" &&
              ["number", "undefined"].includes(typeof (a as { weight?: unknown }).weight)),
        );
      if (!valid) throw new Error(`${where}: "adapters" must be an array of "DIR[:WEIGHT]" or {dir, weight}`);
    }
    prompts.push({ prompt, chat: chat as boolean | undefined, adapters: adapters as PromptLine["adapters"] });
  });
  if (prompts.length === 0) throw new Error(`${file}: no prompts`);
  return prompts;
}

/** The prompt's token ids: raw text, or one user turn rendered with the model's chat template. */
function promptIds(model: Model, prompt: string, chat: boolean): number[] {
  if (!chat) return model.tokenize(prompt, { addSpecial: true, parseSpecial: false });
  const text = model.applyChatTemplate([{ role: "user", content: prompt }], { addGenerationPrompt: true });
  return model.tokenize(text, { addSpecial: true, parseSpecial: true });
}

async function tokenize(options: ModelOptions & { text: string; json?: boolean; parseSpecial?: boolean; addSpecial?: boolean }, out: EngineCliOutput): Promise<void> {
  const model = await Model.load(options.model, { threads: options.threads });
  try {
    const ids = model.tokenize(options.text, { addSpecial: options.addSpecial ?? false, parseSpecial: options.parseSpecial ?? false });
    out.write(options.json ? `${JSON.stringify({ ids })}\n` : `${ids.join(" ")}\n`);
  } finally {
    model.dispose();
  }
}

async function generate(options: GenerateOptions, out: EngineCliOutput): Promise<void> {
  if ((options.prompt === undefined) === (options.promptsFile === undefined)) {
    throw new Error("give exactly one of --prompt TEXT or --prompts-file F.jsonl");
  }
  const lines: PromptLine[] = options.promptsFile
    ? readPromptsFile(options.promptsFile)
    : [{ prompt: options.prompt ?? "", chat: options.chat, adapters: options.adapter }];
  const model = await Model.load(options.model, { threads: options.threads });
  const engine = new Engine(model, { maxSequences: Math.max(64, lines.length), adapterPrecision: options.adapterPrecision });
  try {
    const adapterIds = new Map<string, number>();
    const adaptersOf = (line: PromptLine): AdapterWeight[] =>
      (line.adapters ?? []).map((a) => {
        const spec = typeof a === "string" ? parseAdapterSpec(a) : { dir: a.dir, weight: a.weight ?? 1 };
        let id = adapterIds.get(spec.dir);
        if (id === undefined) {
          id = engine.registerAdapter(spec.dir);
          adapterIds.set(spec.dir, id);
        }
        return { id, weight: spec.weight };
      });
    const streams = lines.map((line) =>
      engine.generate({
        promptIds: promptIds(model, line.prompt, line.chat ?? options.chat ?? false),
        adapters: adaptersOf(line),
        maxTokens: options.maxTokens,
        temperature: options.temperature,
        topK: options.topK,
        topP: options.topP,
        minP: options.minP,
        repetitionPenalty: options.repetitionPenalty,
        seed: options.seed,
        stop: options.stop,
      }),
    );
    if (!options.promptsFile && !options.json) {
      for await (const token of streams[0]) out.write(token.text);
      out.write("\n");
      return;
    }
    // All requests are already running in the batcher; results are printed in input order.
    for (const stream of streams) {
      const result: GenerationResult = await stream.result();
      out.write(`${JSON.stringify({ ids: result.ids, text: result.text, finishReason: result.finishReason })}\n`);
    }
  } finally {
    engine.dispose();
    model.dispose();
  }
}

/** Adds `engine` and its subcommands to the program. */
export function registerEngine(program: Command, out: EngineCliOutput = process.stdout): void {
  const engine = program.command("engine").description("the native inference engine: tokenize and generate");
  const withModel = (command: Command): Command =>
    command
      .requiredOption("--model <path>", "GGUF file or safetensors model directory")
      .option("--threads <n>", "CPU threads (0 = all cores)", integer("--threads", 0), 0);

  withModel(engine.command("tokenize").description("token ids of a text, as the model's tokenizer gives them"))
    .requiredOption("--text <text>", "text to tokenize")
    .option("--add-special", "add BOS/EOS as the model's metadata says")
    .option("--parse-special", "recognise special tokens written in the text")
    .option("--json", 'print {"ids":[...]}')
    .action(async (options: ModelOptions & { text: string; json?: boolean }) => tokenize(options, out));

  withModel(engine.command("generate").description("generate text, streaming it as it is produced"))
    .option("--prompt <text>", "the prompt")
    .option("--prompts-file <file>", 'JSONL, one {"prompt","adapters"?,"chat"?} per line, run concurrently')
    .option("--adapter <dir[:weight]>", "PEFT adapter directory, repeatable (weighted sum)", collect, [])
    .option("--adapter-precision <p>", "stored (exact) or q8 (int8 rank components: a quarter of the memory traffic)", adapterPrecision, "stored")
    .option("--chat", "wrap the prompt as a user turn in the model's chat template")
    .option("--max-tokens <n>", "tokens to generate at most", integer("--max-tokens", 1), 128)
    .option("--temperature <t>", "0 = greedy", finiteNumber("--temperature"), 0)
    .option("--top-k <k>", "0 = off", integer("--top-k", 0), 0)
    .option("--top-p <p>", "1 = off", finiteNumber("--top-p"), 1)
    .option("--min-p <p>", "0 = off", finiteNumber("--min-p"), 0)
    .option("--repetition-penalty <r>", "1 = off", finiteNumber("--repetition-penalty"), 1)
    .option("--seed <s>", "sampling seed (same seed, same output)", integer("--seed", 0))
    .option("--stop <text>", "stop string, repeatable", collect, [])
    .option("--json", "print one JSON result {ids, text, finishReason} per prompt")
    .action(async (options: GenerateOptions) => generate(options, out));

  // The generator's own flags pass through unchanged (see `ol_make_tiny` usage).
  const passThrough = (name: string, tool: string, description: string): void => {
    engine
      .command(name)
      .description(`${description} (flags of \`ol_make_tiny ${tool}\`)`)
      .allowUnknownOption()
      .allowExcessArguments()
      .helpOption(false)
      .action(async (_options: unknown, command: Command) => runMakeTiny([tool, ...command.args]));
  };
  passThrough("make-tiny-model", "model", "write a tiny random model: --out PATH [--format gguf|hf] [--dtype ...]");
  passThrough("make-tiny-adapter", "adapter", "write a random PEFT adapter: --out DIR [--rank R] [--alpha A] [model size flags]");
  passThrough("merge-adapters", "merge", "write a model with adapters merged in: --model HF_DIR --adapter DIR[:WEIGHT]... --out DIR");
}

export function register(program: Command): void {
  registerEngine(program);
}

/** Runs `ol engine <args>` in this process (tests; the `ol` binary uses register()). */
export function runEngineCli(args: readonly string[], out: EngineCliOutput): Promise<void> {
  return runVerbInProcess("engine", registerEngine, args, out);
}
