// Typed front of ol_make_tiny (native/tools, built by `make native`): tiny random models, random
// PEFT adapters and merged reference models, for tests and benchmarks.
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { addonPath } from "./addon";

/** $OL_MAKE_TINY, else native/build/tools/ol_make_tiny (beside the addon's build folder). */
export function makeTinyPath(): string {
  return process.env.OL_MAKE_TINY ?? path.resolve(path.dirname(addonPath()), "..", "tools", "ol_make_tiny");
}

/** Runs ol_make_tiny with raw arguments; rejects with its error message. */
export function runMakeTiny(args: readonly string[]): Promise<void> {
  const tool = makeTinyPath();
  if (!fs.existsSync(tool)) return Promise.reject(new Error(`ol_make_tiny is not built (no ${tool}): run \`make native\``));
  return new Promise((resolve, reject) => {
    execFile(tool, [...args], (error, _stdout, stderr) => {
      if (error) reject(new Error(stderr.split("\n")[0] || error.message));
      else resolve();
    });
  });
}

/** Model dimensions; absent fields take ol_make_tiny's tiny defaults. */
export interface TinyShape {
  arch?: "llama" | "qwen2";
  vocab?: number;
  embd?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  ff?: number;
  ctx?: number;
}

export interface TinyModelOptions extends TinyShape {
  format?: "gguf" | "hf";
  dtype?: "f32" | "f16" | "bf16" | "q8_0" | "q4_0" | "q4_1" | "q4_k" | "q6_k";
  seed?: number;
  tiedEmbeddings?: boolean;
}

export interface TinyAdapterOptions {
  /** The model the adapter is shaped for. */
  model?: TinyShape;
  rank?: number;
  alpha?: number;
  rslora?: boolean;
  targets?: string[];
  /** Scale of the random B matrix (PEFT starts B at zero; a test adapter must change the output). */
  bScale?: number;
  seed?: number;
  /** Storage type of A and B (default f32). */
  dtype?: "f32" | "f16" | "bf16";
}

function shapeArgs(shape: TinyShape = {}): string[] {
  const flags: [string, number | string | undefined][] = [
    ["--arch", shape.arch], ["--vocab", shape.vocab], ["--embd", shape.embd], ["--layers", shape.layers],
    ["--heads", shape.heads], ["--kv-heads", shape.kvHeads], ["--ff", shape.ff], ["--ctx", shape.ctx],
  ];
  return flags.flatMap(([flag, value]) => (value === undefined ? [] : [flag, String(value)]));
}

/** Writes a tiny random model: a GGUF file or a Hugging Face directory (format "hf"). */
export function makeTinyModel(out: string, options: TinyModelOptions = {}): Promise<void> {
  const args = ["model", "--out", out, ...shapeArgs(options)];
  if (options.format) args.push("--format", options.format);
  if (options.dtype) args.push("--dtype", options.dtype);
  if (options.seed !== undefined) args.push("--seed", String(options.seed));
  if (options.tiedEmbeddings) args.push("--tied");
  return runMakeTiny(args);
}

/** Writes a random PEFT adapter directory (adapter_config.json + adapter_model.safetensors). */
export function makeTinyAdapter(out: string, options: TinyAdapterOptions = {}): Promise<void> {
  const args = ["adapter", "--out", out, ...shapeArgs(options.model)];
  if (options.rank !== undefined) args.push("--rank", String(options.rank));
  if (options.alpha !== undefined) args.push("--alpha", String(options.alpha));
  if (options.rslora) args.push("--rslora");
  if (options.dtype) args.push("--dtype", options.dtype);
  if (options.targets) args.push("--targets", options.targets.join(","));
  if (options.bScale !== undefined) args.push("--b-scale", String(options.bScale));
  if (options.seed !== undefined) args.push("--seed", String(options.seed));
  return runMakeTiny(args);
}

/** Writes a copy of a Hugging Face model directory with W + sum(weight * scale * B A) merged in. */
export function mergeAdapters(modelDir: string, adapters: readonly { dir: string; weight: number }[], out: string): Promise<void> {
  return runMakeTiny(["merge", "--model", modelDir, ...adapters.flatMap((a) => ["--adapter", `${a.dir}:${a.weight}`]), "--out", out]);
}
