// Typed client of llamacpp-worker.mjs: llama.cpp (node-llama-cpp 3.21.1) in a child process. Used
// by this benchmark and by the conformance tests (native/tests).
import { fork, type ChildProcess } from "child_process";
import * as path from "path";

// This file runs as source (jest) or compiled into dist/; the worker sits beside the source.
const WORKER = path.join(path.basename(__dirname) === "dist" ? path.dirname(__dirname) : __dirname, "llamacpp-worker.mjs");

export interface LlamaCppLoadOptions {
  modelPath: string;
  threads: number;
  contextSize?: number;
}

export interface ServeRequest {
  ids: number[];
  /** tokens to generate */
  n: number;
  /** GGUF LoRA file, or null for the base model */
  lora: string | null;
}

export class LlamaCpp {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private exited: Error | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (message: { id: number; result?: unknown; error?: string }) => {
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (message.error !== undefined) waiter?.reject(new Error(`llama.cpp worker: ${message.error}`));
      else waiter?.resolve(message.result);
    });
    child.on("exit", (code, signal) => {
      this.exited = new Error(`llama.cpp worker exited (code ${code}, signal ${signal})`);
      for (const waiter of this.waiting.values()) waiter.reject(this.exited);
      this.waiting.clear();
    });
  }

  static async start(options: LlamaCppLoadOptions): Promise<LlamaCpp> {
    const child = fork(WORKER, [], {
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const llama = new LlamaCpp(child);
    try {
      await llama.call("load", options);
    } catch (error) {
      child.kill();
      throw error;
    }
    return llama;
  }

  private call<T>(op: string, args: object = {}): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ id, op, ...args });
    });
  }

  tokenize(texts: string[], parseSpecial: boolean): Promise<number[][]> {
    return this.call("tokenize", { texts, parseSpecial });
  }

  /** Next-token probabilities after each position: ids.length * nVocab floats; lora: a GGUF
   * LoRA file applied with scale 1 (absent: the base model). */
  probabilities(ids: number[], nVocab: number, lora?: string): Promise<Float32Array> {
    return this.call("probabilities", { ids, nVocab, lora });
  }

  /** Exactly n greedy tokens after the prompt (end-of-generation tokens do not stop it). */
  greedy(ids: number[], n: number, lora?: string): Promise<number[]> {
    return this.call("greedy", { ids, n, lora });
  }

  prefillMs(ids: number[]): Promise<number> {
    return this.call("prefill", { ids });
  }

  decodeMs(ids: number[], n: number): Promise<number> {
    return this.call("decode", { ids, n });
  }

  /** Serves the requests one after another, switching adapters between them. */
  serve(requests: ServeRequest[]): Promise<{ ms: number; tokens: number }> {
    return this.call("serve", { requests });
  }

  loraLoadMs(paths: string[]): Promise<number[]> {
    return this.call("loraLoad", { paths });
  }

  rssBytes(): Promise<number> {
    return this.call("rss");
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exit = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    await this.call("close").catch(() => undefined);
    await exit;
  }
}
