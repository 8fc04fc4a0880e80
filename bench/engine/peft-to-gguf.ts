// PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) -> GGUF LoRA file that
// llama.cpp loads, following llama.cpp's convert_lora_to_gguf conventions:
//   general.type = "adapter", adapter.type = "lora", adapter.lora.alpha (llama.cpp scales by
//   alpha / rank, so rsLoRA's alpha / sqrt(rank) is stored as alpha * sqrt(rank)),
//   tensors blk.N.<gguf name>.weight.lora_a (shape [r, in]) / .lora_b ([out, r]), and for llama
//   the rows of q/k lora_b permuted the way convert_hf_to_gguf permutes q/k weights for RoPE.
// Usage: node bench/engine/dist/peft-to-gguf.js ADAPTER_DIR OUT.gguf --n-head N --n-head-kv M [--arch llama]
import * as fs from "fs";
import * as path from "path";
import { readSafetensors, type SafeTensor } from "./safetensors";

const moduleNames: Record<string, string> = {
  "self_attn.q_proj": "attn_q",
  "self_attn.k_proj": "attn_k",
  "self_attn.v_proj": "attn_v",
  "self_attn.o_proj": "attn_output",
  "mlp.gate_proj": "ffn_gate",
  "mlp.up_proj": "ffn_up",
  "mlp.down_proj": "ffn_down",
};

const ggmlType = { F32: 0, F16: 1, BF16: 30 } as const;
const GGUF_TYPE_UINT32 = 4;
const GGUF_TYPE_FLOAT32 = 6;
const GGUF_TYPE_STRING = 8;
const ALIGNMENT = 32;

export interface ConvertOptions {
  arch: string;
  nHead: number;
  nHeadKv: number;
}

interface GgufTensor {
  name: string;
  tensor: SafeTensor;
}

/** Rows of B reordered as convert_hf_to_gguf's LlamaModel.permute reorders q/k rows. */
function permuteRows(tensor: SafeTensor, nHead: number): SafeTensor {
  const [rows] = tensor.shape;
  const rowBytes = tensor.data.length / rows;
  const headDim = rows / nHead;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new Error(`${tensor.name}: ${rows} rows do not split into ${nHead} heads`);
  const out = Buffer.alloc(tensor.data.length);
  for (let h = 0; h < nHead; h++)
    for (let j = 0; j < headDim / 2; j++)
      for (let s = 0; s < 2; s++) {
        const to = h * headDim + j * 2 + s;
        const from = h * headDim + s * (headDim / 2) + j;
        tensor.data.copy(out, to * rowBytes, from * rowBytes, (from + 1) * rowBytes);
      }
  return { ...tensor, data: out };
}

function ggufString(text: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(bytes.length));
  return Buffer.concat([length, bytes]);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}

function u64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(value));
  return b;
}

function f32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(value);
  return b;
}

function padding(length: number): Buffer {
  return Buffer.alloc((ALIGNMENT - (length % ALIGNMENT)) % ALIGNMENT);
}

export function convertPeftToGguf(adapterDir: string, outFile: string, options: ConvertOptions): void {
  const config = JSON.parse(fs.readFileSync(path.join(adapterDir, "adapter_config.json"), "utf8")) as {
    r: number;
    lora_alpha: number;
    use_rslora?: boolean;
  };
  const alpha = config.use_rslora ? config.lora_alpha * Math.sqrt(config.r) : config.lora_alpha;
  const tensors: GgufTensor[] = [];
  for (const tensor of readSafetensors(path.join(adapterDir, "adapter_model.safetensors"))) {
    const match = /layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_([AB])(?:\.default)?\.weight$/.exec(tensor.name);
    if (!match) throw new Error(`${tensor.name}: not a LoRA tensor of a llama-style module`);
    const [, layer, module, which] = match;
    let data = tensor;
    if (which === "B" && options.arch === "llama" && module === "self_attn.q_proj") data = permuteRows(tensor, options.nHead);
    if (which === "B" && options.arch === "llama" && module === "self_attn.k_proj") data = permuteRows(tensor, options.nHeadKv);
    tensors.push({ name: `blk.${layer}.${moduleNames[module]}.weight.lora_${which.toLowerCase()}`, tensor: data });
  }

  const metadata: Buffer[] = [
    Buffer.concat([ggufString("general.architecture"), u32(GGUF_TYPE_STRING), ggufString(options.arch)]),
    Buffer.concat([ggufString("general.type"), u32(GGUF_TYPE_STRING), ggufString("adapter")]),
    Buffer.concat([ggufString("adapter.type"), u32(GGUF_TYPE_STRING), ggufString("lora")]),
    Buffer.concat([ggufString("adapter.lora.alpha"), u32(GGUF_TYPE_FLOAT32), f32(alpha)]),
    Buffer.concat([ggufString("general.alignment"), u32(GGUF_TYPE_UINT32), u32(ALIGNMENT)]),
  ];
  const infos: Buffer[] = [];
  const data: Buffer[] = [];
  let offset = 0;
  for (const { name, tensor } of tensors) {
    // GGUF dims are innermost first: the reverse of PyTorch's shape.
    const dims = [...tensor.shape].reverse();
    infos.push(Buffer.concat([ggufString(name), u32(dims.length), ...dims.map(u64), u32(ggmlType[tensor.dtype]), u64(offset)]));
    data.push(tensor.data, padding(tensor.data.length));
    offset += tensor.data.length + padding(tensor.data.length).length;
  }
  const header = Buffer.concat([Buffer.from("GGUF", "ascii"), u32(3), u64(tensors.length), u64(metadata.length), ...metadata, ...infos]);
  fs.writeFileSync(outFile, Buffer.concat([header, padding(header.length), ...data]));
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback?: string): string => {
    const i = args.indexOf(name);
    const value = i >= 0 ? args[i + 1] : fallback;
    if (value === undefined) throw new Error(`missing ${name}`);
    return value;
  };
  const [adapterDir, outFile] = args;
  if (!adapterDir || !outFile) {
    process.stderr.write("usage: peft-to-gguf ADAPTER_DIR OUT.gguf --n-head N --n-head-kv M [--arch llama]\n");
    process.exit(2);
  }
  convertPeftToGguf(adapterDir, outFile, {
    arch: flag("--arch", "llama"),
    nHead: Number(flag("--n-head")),
    nHeadKv: Number(flag("--n-head-kv")),
  });
}
