// @openledger/native: the typed TypeScript face of the native engine (Node-API addon).
// Model loading and every slow call run off the event loop; generated tokens arrive as an async
// iterator while the engine produces them; an AbortSignal cancels a generation.
import {
  addon,
  RawFinish,
  type RawAdapterWeight,
  type RawEngine,
  type RawEngineParams,
  type RawEngineStats,
  type RawEvalSequence,
  type RawModel,
  type RawModelInfo,
  type RawRequest,
} from "./addon";

export { addonPath } from "./addon";
export { makeTinyAdapter, makeTinyModel, makeTinyPath, mergeAdapters, runMakeTiny } from "./tiny";
export type { TinyAdapterOptions, TinyModelOptions, TinyShape } from "./tiny";

export type ModelInfo = RawModelInfo;
export type EngineStats = RawEngineStats;

export interface LoadModelOptions {
  /** CPU threads; 0 or absent = number of cores. */
  threads?: number;
  backend?: "cpu" | "cuda";
}

export interface ChatMessage {
  role: string;
  content: string;
}

// The addon takes these shapes as they are (their fields are documented in addon.ts).
export type EngineOptions = RawEngineParams;
export type AdapterWeight = RawAdapterWeight;

export interface GenerateRequest extends RawRequest {
  /** Aborting cancels the generation: the stream ends with finishReason "cancelled". */
  signal?: AbortSignal;
}

export type FinishReason = "length" | "eos" | "stop" | "cancelled";

export interface GeneratedToken {
  id: number;
  /** The text this token completes (may be "" while a multi-byte character is incomplete). */
  text: string;
}

export interface GenerationResult {
  ids: number[];
  text: string;
  finishReason: FinishReason;
}

export type EvalSequence = RawEvalSequence;

/** An error reported by the engine; code is the ol_status name (e.g. "OL_ERR_BAD_FILE"). */
export interface NativeError extends Error {
  code: string;
}

/** True for the engine's errors (no instanceof: the addon's errors may come from another realm,
 * e.g. under jest's vm contexts). */
export function isNativeError(error: unknown): error is NativeError {
  return (
    typeof error === "object" && error !== null &&
    typeof (error as Partial<NativeError>).message === "string" &&
    typeof (error as Partial<NativeError>).code === "string"
  );
}

const finishNames: Record<number, FinishReason> = {
  [RawFinish.Length]: "length",
  [RawFinish.Eos]: "eos",
  [RawFinish.Stop]: "stop",
  [RawFinish.Cancelled]: "cancelled",
};

export class Model {
  private constructor(
    /** @internal */ readonly raw: RawModel,
    readonly path: string,
  ) {}

  /** Loads a GGUF file or a safetensors directory on a worker thread. */
  static async load(path: string, options: LoadModelOptions = {}): Promise<Model> {
    const raw = await addon().loadModel(path, {
      threads: options.threads ?? 0,
      backend: options.backend === "cuda" ? 1 : 0,
    });
    return new Model(raw, path);
  }

  info(): ModelInfo {
    return this.raw.info();
  }

  tokenize(text: string, options: { addSpecial?: boolean; parseSpecial?: boolean } = {}): number[] {
    return Array.from(this.raw.tokenize(text, options.addSpecial ?? false, options.parseSpecial ?? false));
  }

  /** The UTF-8 bytes of the ids' text (a piece may end inside a character). */
  detokenizeBytes(ids: Int32Array | readonly number[], options: { renderSpecial?: boolean } = {}): Buffer {
    return this.raw.detokenize(ids, options.renderSpecial ?? false);
  }

  detokenize(ids: Int32Array | readonly number[], options: { renderSpecial?: boolean } = {}): string {
    return this.detokenizeBytes(ids, options).toString("utf8");
  }

  /** The chat rendered with the model's own template (from its metadata); by default followed by
   * the assistant prefix. */
  applyChatTemplate(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    return this.raw.applyChatTemplate(messages, options.addGenerationPrompt ?? true);
  }

  /** Releases this handle; engines built on the model keep the weights until they are disposed. */
  dispose(): void {
    this.raw.dispose();
  }
}

/** The tokens of one generation, as an async iterator, plus its final result. */
export class TokenStream implements AsyncIterable<GeneratedToken> {
  private readonly pending: GeneratedToken[] = [];
  private readonly ids: number[] = [];
  private text = "";
  private readonly decoder = new TextDecoder("utf-8");
  private outcome: { result: GenerationResult } | { error: Error } | undefined;
  private wake: (() => void) | undefined;
  private readonly finished: Promise<GenerationResult>;
  private settle!: { resolve: (result: GenerationResult) => void; reject: (error: Error) => void };
  private iterating = false;

  /** @internal */
  constructor(
    private readonly engine: Engine,
    readonly requestId: number,
  ) {
    this.finished = new Promise<GenerationResult>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // result() may never be awaited when the caller only iterates; the error reaches the iterator.
    this.finished.catch(() => undefined);
  }

  /** @internal Called for each event from the engine thread (on the JS thread). */
  deliver(token: number, piece: Buffer, finish: number): void {
    if (finish === RawFinish.None) {
      const text = this.decoder.decode(piece, { stream: true });
      this.ids.push(token);
      this.text += text;
      this.pending.push({ id: token, text });
    } else {
      this.text += this.decoder.decode();
      if (finish === RawFinish.Error) {
        const error = Object.assign(new Error(`generation failed: ${piece.toString("utf8")}`), {
          code: "OL_FINISH_ERROR",
        });
        this.outcome = { error };
        this.settle.reject(error);
      } else {
        const result = { ids: this.ids, text: this.text, finishReason: finishNames[finish] ?? "cancelled" };
        this.outcome = { result };
        this.settle.resolve(result);
      }
    }
    this.wake?.();
  }

  /** Asks the engine to stop; the stream then ends with finishReason "cancelled". */
  cancel(): void {
    if (!this.outcome) this.engine.cancelRequest(this.requestId);
  }

  /** All ids and the whole text once the generation ends (rejects when it failed). */
  result(): Promise<GenerationResult> {
    return this.finished;
  }

  /** Iterating the tokens; leaving the loop early (break, throw) cancels the generation. */
  async *[Symbol.asyncIterator](): AsyncIterator<GeneratedToken> {
    if (this.iterating) throw new Error("a TokenStream can be iterated only once");
    this.iterating = true;
    try {
      for (;;) {
        const next = this.pending.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.outcome) {
          if ("error" in this.outcome) throw this.outcome.error;
          return;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
      }
    } finally {
      this.cancel();
    }
  }
}

export class Engine {
  private raw: RawEngine | undefined;
  /** Requests whose final event has not arrived yet. */
  private readonly running = new Set<number>();

  /** Starts the engine's scheduler thread over the model. */
  constructor(
    readonly model: Model,
    options: EngineOptions = {},
  ) {
    this.raw = new (addon().Engine)(model.raw, options);
  }

  private native(): RawEngine {
    if (!this.raw) throw new Error("the engine has been disposed");
    return this.raw;
  }

  /** Registers a PEFT adapter directory (validated now, loaded on first use); returns its id. */
  registerAdapter(dir: string): number {
    return this.native().registerAdapter(dir);
  }

  unregisterAdapter(id: number): void {
    this.native().unregisterAdapter(id);
  }

  /** Makes the adapter resident now; resolves with the microseconds spent (0 if it was resident). */
  loadAdapter(id: number): Promise<number> {
    return this.native().loadAdapter(id);
  }

  stats(): EngineStats {
    return this.native().stats();
  }

  /** Queues a generation; tokens stream out as the engine produces them. */
  generate(request: GenerateRequest): TokenStream {
    const { signal, ...rest } = request;
    if (signal?.aborted) throw Object.assign(new Error("the generation was aborted before it started"), { name: "AbortError" });
    // Events come through a thread-safe function, so never before submit() has returned.
    let stream: TokenStream;
    const requestId = this.native().submit(rest, (token, piece, finish) => {
      stream.deliver(token, piece, finish);
      if (finish !== RawFinish.None) {
        this.running.delete(requestId);
        signal?.removeEventListener("abort", onAbort);
      }
    });
    stream = new TokenStream(this, requestId);
    const onAbort = (): void => stream.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    this.running.add(requestId);
    return stream;
  }

  /** @internal */
  cancelRequest(requestId: number): void {
    // The request may have just finished on the engine thread: nothing left to cancel then.
    if (this.raw && this.running.has(requestId)) {
      try {
        this.raw.cancel(requestId);
      } catch (error) {
        if (!isNativeError(error) || error.code !== "OL_ERR_NOT_FOUND") throw error;
      }
    }
  }

  /** Teacher-forced logits of every position of each sequence, all run as one batch:
   * one Float32Array of ids.length * nVocab per sequence. */
  evalLogits(sequences: readonly EvalSequence[]): Promise<Float32Array[]> {
    return this.native().evalLogits(sequences);
  }

  /** Stops the engine; running generations end with finishReason "cancelled". */
  dispose(): void {
    this.raw?.dispose();
    this.raw = undefined;
  }
}
