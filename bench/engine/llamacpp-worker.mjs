// The llama.cpp side of bench/engine and of the conformance tests (native/tests): a child process (node-llama-cpp
// is ESM-only and would share the CPU/memory accounting of our engine in-process) driven over IPC
// with `fork(..., { serialization: "advanced" })` so Float32Arrays cross without JSON.
// Each message is {id, op, ...args}; each reply is {id, result} or {id, error}.
import { getLlama } from "node-llama-cpp";

let llama;
let model;
let context;
let sequence;
let currentLora = null; // the GGUF LoRA file set on the context, null for the base model

const ops = {
  async load({ modelPath, threads, contextSize = 1024 }) {
    llama = await getLlama({ gpu: false, build: "never", logLevel: "error" });
    model = await llama.loadModel({ modelPath });
    context = await model.createContext({ contextSize, threads, sequences: 1, batchSize: 512 });
    sequence = context.getSequence();
    return null;
  },

  tokenize({ texts, parseSpecial }) {
    return texts.map((text) => Array.from(model.tokenize(text, parseSpecial)));
  },

  // Next-token probabilities after every position (teacher forcing), softmax of the raw logits;
  // lora: a GGUF LoRA file applied with scale 1, or absent for the base model.
  async probabilities({ ids, nVocab, lora }) {
    await setLora(lora);
    await sequence.clearHistory();
    const outputs = await sequence.controlledEvaluate(ids.map((t) => [t, { generateNext: { probabilities: true } }]));
    const probs = new Float32Array(ids.length * nVocab);
    outputs.forEach((output, position) => {
      for (const [token, p] of output.next.probabilities) probs[position * nVocab + token] = p;
    });
    return probs;
  },

  // Greedy continuation of exactly n tokens (end-of-generation tokens do not stop it).
  async greedy({ ids, n, lora }) {
    await setLora(lora);
    await sequence.clearHistory();
    const out = [];
    for await (const token of sequence.evaluate(ids, { temperature: 0 })) {
      out.push(token);
      if (out.length >= n) break;
    }
    return out;
  },

  // Prompt evaluation time (prefill), no generation.
  async prefill({ ids }) {
    await sequence.clearHistory();
    const start = process.hrtime.bigint();
    await sequence.evaluateWithoutGeneratingNewTokens(ids);
    return Number(process.hrtime.bigint() - start) / 1e6;
  },

  // Single-stream greedy decode of n tokens after the prompt; ms of the decode part only.
  async decode({ ids, n }) {
    await sequence.clearHistory();
    await sequence.evaluateWithoutGeneratingNewTokens(ids.slice(0, -1));
    const start = process.hrtime.bigint();
    let count = 0;
    for await (const token of sequence.evaluate(ids.slice(-1), { temperature: 0 })) {
      void token;
      if (++count >= n) break;
    }
    return Number(process.hrtime.bigint() - start) / 1e6;
  },

  // Serves requests one after another on one context, switching the LoRA adapter between them
  // (llama.cpp applies one adapter set per context). lora: GGUF LoRA path or null for base.
  async serve({ requests }) {
    const start = process.hrtime.bigint();
    let tokens = 0;
    for (const { ids, n, lora } of requests) {
      await setLora(lora);
      await sequence.clearHistory();
      for await (const token of sequence.evaluate(ids, { temperature: 0 })) {
        void token;
        if (++tokens % n === 0) break;
      }
    }
    return { ms: Number(process.hrtime.bigint() - start) / 1e6, tokens };
  },

  // Cold load of GGUF LoRA files: ms each.
  async loraLoad({ paths }) {
    const times = [];
    for (const path of paths) {
      const start = process.hrtime.bigint();
      await setLora(path);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    await setLora(null);
    return times;
  },

  rss() {
    return process.memoryUsage().rss;
  },

  async close() {
    await context?.dispose();
    await model?.dispose();
    await llama?.dispose();
    setImmediate(() => process.exit(0));
    return null;
  },
};

// node-llama-cpp sets adapters only at context creation in its public API; _setLoras is the
// same call it uses there, made again per request the way llama-server switches adapters.
async function setLora(path = null) {
  if (currentLora === path) return;
  await context._setLoras(path ? [{ filePath: path, scale: 1 }] : []);
  currentLora = path;
}

process.on("message", async (message) => {
  const { id, op, ...args } = message;
  try {
    if (!ops[op]) throw new Error(`unknown op ${op}`);
    process.send({ id, result: await ops[op](args) });
  } catch (error) {
    process.send({ id, error: error instanceof Error ? error.stack ?? error.message : String(error) });
  }
});
