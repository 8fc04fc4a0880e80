// Loading the compiled Node-API addon and the raw shape it exports. Only this wrapper package
// touches the raw addon; everyone else uses the typed classes in index.ts.
import * as fs from "fs";
import * as path from "path";

export interface RawModelInfo {
  architecture: string;
  nVocab: number;
  nCtxTrain: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  bosId: number;
  eosId: number;
  nParams: number;
  weightsBytes: number;
}

export interface RawModel {
  info(): RawModelInfo;
  tokenize(text: string, addSpecial: boolean, parseSpecial: boolean): Int32Array;
  detokenize(ids: Int32Array | readonly number[], renderSpecial: boolean): Buffer;
  applyChatTemplate(messages: readonly { role: string; content: string }[], addGenerationPrompt: boolean): string;
  dispose(): void;
}

/** One adapter of a request's linear combination; weight defaults to 1. */
export interface RawAdapterWeight {
  id: number;
  weight?: number;
}

export interface RawRequest {
  promptIds: Int32Array | readonly number[];
  maxTokens: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  repetitionLastN?: number;
  /** Same seed, same request: same tokens. */
  seed?: number;
  stop?: readonly string[];
  adapters?: readonly RawAdapterWeight[];
  ignoreEos?: boolean;
}

export interface RawEngineStats {
  registered: number;
  resident: number;
  residentBytes: number;
  hits: number;
  misses: number;
  evictions: number;
  runningSequences: number;
  waitingSequences: number;
  kvBlocksTotal: number;
  kvBlocksUsed: number;
}

export interface RawEngineParams {
  /** Tokens per scheduler step (prefill chunks + decodes); default 512. */
  maxBatchTokens?: number;
  /** Concurrent sequences; default 64. */
  maxSequences?: number;
  /** Tokens per KV block; default 16. */
  kvBlockSize?: number;
  /** KV pool size in bytes; default: enough for maxSequences x n_ctx_train/4. */
  kvCacheBytes?: number;
  /** Resident adapter memory (LRU beyond it); default 256 MiB. */
  adapterBudgetBytes?: number;
  /**
   * How resident adapters hold A/B: "stored" (default; exact) or "q8" (int8 per rank component: a
   * quarter of F32's memory traffic per decode step, slightly less exact; native/README.md).
   */
  adapterPrecision?: "stored" | "q8";
}

export interface RawEvalSequence {
  ids: Int32Array | readonly number[];
  adapters?: readonly RawAdapterWeight[];
}

/** The values of ol_finish_reason. */
export const RawFinish = { None: 0, Length: 1, Eos: 2, Stop: 3, Cancelled: 4, Error: 5 } as const;

/** Called for every generated token (finish = RawFinish.None) and once at the end (token -1). */
export type RawTokenCallback = (token: number, piece: Buffer, finish: number) => void;

export interface RawEngine {
  registerAdapter(dir: string): number;
  unregisterAdapter(id: number): void;
  loadAdapter(id: number): Promise<number>;
  stats(): RawEngineStats;
  submit(request: RawRequest, onToken: RawTokenCallback): number;
  cancel(requestId: number): void;
  evalLogits(sequences: readonly RawEvalSequence[]): Promise<Float32Array[]>;
  dispose(): void;
}

export interface RawAddon {
  loadModel(path: string, options: { threads?: number; backend?: number }): Promise<RawModel>;
  Engine: new (model: RawModel, params: RawEngineParams) => RawEngine;
}

/** Where the addon is looked for: $OL_NATIVE_ADDON, else native/build/binding/ol_native.node
 * (this file sits one level below native/ both as source, js/, and compiled, dist/). */
export function addonPath(): string {
  return process.env.OL_NATIVE_ADDON ?? path.resolve(__dirname, "..", "build", "binding", "ol_native.node");
}

let loaded: RawAddon | undefined;

/** Loads the addon once; a clear error when it has not been built. */
export function addon(): RawAddon {
  if (!loaded) {
    const file = addonPath();
    if (!fs.existsSync(file)) {
      throw new Error(`the native engine addon is not built (no ${file}): run \`make native\``);
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(file) as RawAddon;
  }
  return loaded;
}
